package main

import (
	"bytes"
	"context"
	"fmt"
)

// applyAll sets t up in dir and commits every batch.
func applyAll(ctx context.Context, t Target, dir string, w Workload, batches [][]Write) error {
	if err := t.Setup(ctx, dir, w); err != nil {
		return err
	}
	for i, b := range batches {
		if err := t.Commit(ctx, b); err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
	}
	return nil
}

// verifyPages reads every page back from t and compares it with want
// (the model's pages, or MMSB's), naming the first page and offset that
// differ.
func verifyPages(ctx context.Context, t Target, want [][]byte) error {
	for i, exp := range want {
		got, err := t.ReadPage(ctx, uint32(i))
		if err != nil {
			return fmt.Errorf("read page %d: %w", i, err)
		}
		if !bytes.Equal(got, exp) {
			off := 0
			for off < min(len(got), len(exp)) && got[off] == exp[off] {
				off++
			}
			return fmt.Errorf("page %d differs at offset %d (got %d bytes, want %d)", i, off, len(got), len(exp))
		}
	}
	return nil
}
