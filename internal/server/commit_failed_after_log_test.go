package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestCommitFailedAfterLogging: a batch the bus logged and applied, and
// which then failed to become durable (here its fsync failed), is named
// by the bus's CommitInfo returned with the error. The server passed on
// the error alone: its caller, told Unavailable, could not know that the
// batch is applied (readers see it) and would commit it again. The error
// now names the batch's LSNs (message, a CommitResponse detail and the
// Mmsb-Committed-Lsns header), and client.Commit returns them with an
// error wrapping client.ErrCommitUncertain. A batch refused before it
// was logged (the negative control, on the failed bus) names none.
func TestCommitFailedAfterLogging(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
	// Group commit (the default): the batch is logged and applied, then
	// waits for the fsync covering it.
	f := newFixture(t, fixOpts{dir: "/bus", bus: &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncGroup}})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	before := f.bus.LastLSN()
	tog.On()
	ds := []mmsb.Delta{mmsb.Write(id, 0, []byte("x")), mmsb.Write(id, 1, []byte("y"))}
	info, err := f.c.Commit(ctx, ds)
	tog.Off()
	if err == nil {
		t.Fatal("a commit whose fsync failed succeeded")
	}
	if got := f.bus.LastLSN(); got != before+2 {
		t.Fatalf("the bus's last LSN is %d after the failed commit, want %d (logged and applied)", got, before+2)
	}
	if info.FirstLSN != before+1 || info.LastLSN != before+2 || ds[0].LSN != before+1 || ds[1].LSN != before+2 || ds[1].Epoch != 2 {
		t.Fatalf("client.Commit returned %+v (deltas at LSNs %d, %d, epoch %d) with %v: want the batch's LSNs %d..%d",
			info, ds[0].LSN, ds[1].LSN, ds[1].Epoch, err, before+1, before+2)
	}
	if !errors.Is(err, client.ErrCommitUncertain) || connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("error %v (code %v): want client.ErrCommitUncertain and unavailable", err, connect.CodeOf(err))
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Meta().Get(server.CommittedLSNsKey) == "" || !strings.Contains(err.Error(), "applied at LSNs") {
		t.Fatalf("error %v: want the %s header and a message saying the batch was applied", err, server.CommittedLSNsKey)
	}
	found := false
	for _, d := range ce.Details() {
		if m, derr := d.Value(); derr == nil {
			if r, ok := m.(*mmsbv1.CommitResponse); ok && r.GetFirstLsn() == uint64(before+1) && r.GetLastLsn() == uint64(before+2) {
				found = true
			}
		}
	}
	if !found {
		t.Fatalf("error %v: no CommitResponse detail naming LSNs %d..%d", err, before+1, before+2)
	}

	// Negative control: the failed bus refuses the next batch before
	// logging it; nothing is named as committed.
	ds = []mmsb.Delta{mmsb.Write(id, 0, []byte("z"))}
	info, err = f.c.Commit(ctx, ds)
	if err == nil || errors.Is(err, client.ErrCommitUncertain) || info.FirstLSN != 0 || ds[0].LSN != 0 {
		t.Fatalf("a batch refused by the failed bus: got %+v, %v; want a zero CommitInfo and an error that is not ErrCommitUncertain", info, err)
	}
}

// TestCreatePagesFailedAfterLogging: a create batch logged and applied
// whose fsync then failed names its pages: the server's error carries a
// CreatePagesResponse detail and client.CreatePages returns the IDs with
// an error wrapping client.ErrCommitUncertain (it returned nil IDs, and a
// caller would have created the pages again). A batch the failed bus
// refuses names none.
func TestCreatePagesFailedAfterLogging(t *testing.T) {
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
	f := newFixture(t, fixOpts{dir: "/bus", bus: &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncGroup}})
	ctx := context.Background()
	if _, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	tog.On()
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 16}})
	tog.Off()
	if !errors.Is(err, client.ErrCommitUncertain) || connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "pages 2..3 were logged and created") {
		t.Fatalf("CreatePages whose fsync failed: %v, %v; want client.ErrCommitUncertain, unavailable, naming pages 2..3", ids, err)
	}
	if len(ids) != 2 || ids[0] != 2 || ids[1] != 3 {
		t.Fatalf("CreatePages returned IDs %v with the error, want [2 3]", ids)
	}
	if p, err := f.bus.Page(3); err != nil || p.Size != 16 {
		t.Fatalf("page 3 after the failed create: %+v, %v", p, err)
	}
	ids, err = f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}})
	if err == nil || errors.Is(err, client.ErrCommitUncertain) || ids != nil {
		t.Fatalf("a create refused by the failed bus: %v, %v; want nil IDs and an error that is not ErrCommitUncertain", ids, err)
	}
}
