package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestCheckpointCorruptLogSaysWhatNext: checkpoint of a directory whose log
// is damaged before its tail fails, changes nothing, and its error says
// what to do next (mmsb check, Options.Repair). It printed only the
// corruption ("open DIR: mmsb: corruption in F at offset N: ..."), and no
// mmsb command sets Repair.
func TestCheckpointCorruptLogSaysWhatNext(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, bytes.Repeat([]byte{byte(i + 1)}, 1024))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "wal", "*.log"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v, %v: want one", segs, err)
	}
	seg, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	// Flip a byte of the 5th commit's payload: its record's checksum no
	// longer matches and intact records follow it, so this is corruption
	// before the tail, not a torn tail that recovery would truncate.
	at := bytes.Index(seg, bytes.Repeat([]byte{5}, 1024))
	if at < 0 {
		t.Fatal("the 5th commit's payload is not in the segment")
	}
	seg[at+512] ^= 0xff
	if err := os.WriteFile(segs[0], seg, 0o600); err != nil {
		t.Fatal(err)
	}

	r := runCLI(t, "checkpoint", dir).mustCode(t, exitFailure)
	for _, want := range []string{"corruption", "mmsb check " + dir, "Options.Repair"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	after, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(after, seg) {
		t.Error("the failed checkpoint changed the log segment")
	}
	if ckpts, _ := filepath.Glob(filepath.Join(dir, "checkpoints", "*.ckpt")); len(ckpts) != 0 {
		t.Errorf("the failed checkpoint left %v", ckpts)
	}
}
