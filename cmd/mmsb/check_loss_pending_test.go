package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// pendingLossBus makes a bus with a log (two pages, the second bound to
// "mine", a checkpoint at LSN 3, a commit at LSN 4), removes its log's
// segments, and has an Open with Repair accept the loss and fail (the
// function not registered), leaving checkpoints/log-mode.lost. It
// returns the directory and the functions.
func pendingLossBus(t *testing.T) (string, map[string]mmsb.RecomputeFunc) {
	t.Helper()
	ctx := context.Background()
	fn := func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }
	funcs := map[string]mmsb.RecomputeFunc{"mine": fn}
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, &mmsb.Options{Functions: funcs})
	if err != nil {
		t.Fatal(err)
	}
	var ids []mmsb.PageID
	for range 2 {
		p, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8})
		if err != nil {
			bus.Close()
			t.Fatal(err)
		}
		ids = append(ids, p)
	}
	if err := bus.Bind(ctx, ids[1], "mine", nil, ids[:1]); err != nil {
		bus.Close()
		t.Fatal(err)
	}
	if _, err := bus.Checkpoint(ctx); err != nil {
		bus.Close()
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{1})}); err != nil {
		bus.Close()
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, "wal")
	entries, err := os.ReadDir(wal)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Remove(filepath.Join(wal, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if bus, err := mmsb.Open(dir, &mmsb.Options{Repair: true}); !errors.Is(err, mmsb.ErrUnknownFunc) {
		if err == nil {
			bus.Close()
		}
		t.Fatalf("Repair Open without the function: %v, want ErrUnknownFunc", err)
	}

	return dir, funcs
}

// TestCheckReportsPendingLoss: an Open with Repair that accepts a removed
// log makes a segment in the emptied wal/ and can then fail (here: a
// binding's function not registered). The directory then looks like an
// intact bus, and check said OK without a word of the loss; only the next
// Open that succeeds reported it (checkpoints/log-mode.lost). check now
// warns of it, naming the file, until that Open has reported it; and
// checkpoint, whose Open reports it and removes the mark, says it (it
// said nothing, so the report reached no one).
func TestCheckReportsPendingLoss(t *testing.T) {
	dir, _ := pendingLossBus(t)
	mark := filepath.Join(dir, "checkpoints", "log-mode.lost")
	r := runCLI(t, "check", dir)
	if r.code != exitOK || !strings.Contains(r.stdout, "WARNING "+mark+": ") || !strings.Contains(r.stdout, "are lost") {
		t.Errorf("check after the failed Repair Open: exit %d, want 0 and a warning naming %s and the loss:\n%s%s", r.code, mark, r.stdout, r.stderr)
	}

	// checkpoint's Open reports the loss and removes the mark: the
	// command must say it, or no one is ever told.
	if r := runCLI(t, "checkpoint", dir); r.code != exitOK || !strings.Contains(r.stderr, "commits from LSN 4 on lost") {
		t.Errorf("checkpoint after the failed Repair Open: exit %d, want 0 and a warning of the loss from LSN 4:\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, "check", dir); r.code != exitOK || strings.Contains(r.stdout, "log-mode.lost") {
		t.Errorf("check once an Open reported the loss: exit %d, want 0 and no warning of it:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestServeReportsPendingLoss: serve's Open reports a loss an earlier
// Open accepted and failed after, and removes its mark: serve logged
// nothing of it, so no one was ever told. It logs a warning.
func TestServeReportsPendingLoss(t *testing.T) {
	dir, funcs := pendingLossBus(t)
	prev := serveOpenHook
	serveOpenHook = func(o *mmsb.Options) { o.Functions = funcs }
	t.Cleanup(func() { serveOpenHook = prev })
	_, stderr, stop := startServe(t, "--dir", dir, "--addr", "127.0.0.1:0")
	stop()
	if out := stderr.String(); !strings.Contains(out, "commits from LSN 4 on lost") {
		t.Errorf("serve's log lacks the loss from LSN 4:\n%s", out)
	}
}
