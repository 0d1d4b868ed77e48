package server_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestCommitFailedWriteSaysUncertain: a Commit whose log write failed
// (a full disk) after the bus applied the batch is answered as uncertain:
// the message says the batch may be absent after a restart and names the
// durable LSN. Until 2026-12-07 it said the batch "was logged", which it
// was not (it was lost on restart). The client maps the answer to
// ErrCommitUncertain; a Commit before the failure succeeds (the control).
func TestCommitFailedWriteSaysUncertain(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpWrite, errorfs.ErrInjected))
	f := newFixture(t, fixOpts{dir: "/bus", bus: &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncGroup}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("a"))}); err != nil {
		t.Fatalf("the control Commit: %v", err)
	}
	durable := f.bus.Stats().Log.DurableLSN
	tog.On()
	info, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("b"))})
	tog.Off()
	if err == nil {
		t.Fatal("a commit whose log write failed succeeded")
	}
	if info.FirstLSN == 0 {
		t.Skipf("the bus refused the batch before applying it (%v): nothing uncertain to check", err)
	}
	if !errors.Is(err, client.ErrCommitUncertain) {
		t.Errorf("error %v: want client.ErrCommitUncertain", err)
	}
	msg := err.Error()
	for _, w := range []string{"uncertain", "may be absent after a restart", fmt.Sprintf("durable up to LSN %d", durable)} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not say %q", msg, w)
		}
	}
	if strings.Contains(msg, "was logged") {
		t.Errorf("error %q says the batch was logged: its write failed", msg)
	}
}
