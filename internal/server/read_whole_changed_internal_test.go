package server

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestReadWholeChangedBetweenParts: a whole-page Read item reads its page
// in two parts (readWhole: the first 64 KiB, then the rest as the page's
// size says); a page freed, or freed and created again smaller, between
// them is no error of the item's: readWhole answers the first part, and
// Read, whose last LSN moved, reads its items again; it was answered
// invalid_argument, its range "outside its bytes", or not_found, though
// it had been there whole when the Read began (a page read in one part,
// before the two parts, never was). A page
// of exactly 64 KiB, of less, and one read whole in two parts are
// answered byte for byte.
func TestReadWholeChangedBetweenParts(t *testing.T) {
	const id = mmsb.PageID(7)
	page := func(n int) []byte { return bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n] }
	// readFrom reads the bytes of p, or the error of a page that is gone
	// (p nil), as Bus.ReadPageRange does.
	readFrom := func(p []byte, epoch mmsb.Epoch) func(mmsb.PageID, int, int, []byte) ([]byte, mmsb.Epoch, error) {
		return func(id mmsb.PageID, off, n int, dst []byte) ([]byte, mmsb.Epoch, error) {
			if p == nil {
				return dst, 0, fmt.Errorf("%w: page %d", mmsb.ErrPageNotFound, id)
			}
			if off > len(p) {
				return dst, 0, fmt.Errorf("%w: offset %d is past the end of page %d (%d bytes)", mmsb.ErrOutOfRange, off, id, len(p))
			}
			return append(dst, p[off:off+min(n, len(p)-off)]...), epoch, nil
		}
	}
	sizeOf := func(p []byte) func(mmsb.PageID) (int, error) {
		return func(id mmsb.PageID) (int, error) {
			if p == nil {
				return 0, fmt.Errorf("%w: page %d", mmsb.ErrPageNotFound, id)
			}
			return len(p), nil
		}
	}
	old, small := page(100<<10), page(10<<10)
	for _, c := range []struct {
		name string
		// the page's bytes at the first part, at its size, at the rest
		first, atSize, atRest []byte
		want                  []byte
	}{
		{"recreated smaller before its size", old, small, small, old[:wholeReadChunk]},
		{"recreated smaller after its size", old, old, small, old[:wholeReadChunk]},
		{"freed before its size", old, nil, nil, old[:wholeReadChunk]},
		{"freed after its size", old, old, nil, old[:wholeReadChunk]},
		{"unchanged", old, old, old, old},
		{"exactly 64 KiB", page(wholeReadChunk), page(wholeReadChunk), page(wholeReadChunk), page(wholeReadChunk)},
		{"less than 64 KiB", small, small, small, small},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			read := func(id mmsb.PageID, off, n int, dst []byte) ([]byte, mmsb.Epoch, error) {
				calls++
				if calls == 1 {
					return readFrom(c.first, 1)(id, off, n, dst)
				}
				return readFrom(c.atRest, 2)(id, off, n, dst)
			}
			data, epoch, _, err := readWhole(context.Background(), read, sizeOf(c.atSize), id, 0, maxReadBytes, 0)
			if err != nil {
				t.Fatalf("a whole page of %d bytes changed between its parts: %v, want its first part (Read reads it again)", len(c.first), err)
			}
			if !bytes.Equal(data, c.want) {
				t.Fatalf("read %d bytes, want %d", len(data), len(c.want))
			}
			if epoch == 0 {
				t.Fatal("answered with epoch 0, not the epoch of a part read")
			}
		})
	}
}
