package inspector_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// failingBus opens a bus (SyncAlways, on a memory file system) whose log
// fsyncs fail while the returned toggle is on, with one page of 8 bytes.
func failingBus(t *testing.T) (*mmsb.Bus, *errorfs.Toggle, mmsb.PageID) {
	t.Helper()
	tog := errorfs.NewToggle(errorfs.OnKind(errorfs.OpSync, errorfs.ErrInjected))
	bus, err := mmsb.Open("/bus", &mmsb.Options{FS: errorfs.Wrap(vfs.NewMem(), tog), Sync: mmsb.SyncAlways})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ids, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	return bus, tog, ids[0]
}

// failBus makes a commit meet a failed fsync: the bus fails for good.
func failBus(t *testing.T, bus *mmsb.Bus, tog *errorfs.Toggle, id mmsb.PageID) {
	t.Helper()
	tog.On()
	defer tog.Off()
	if _, err := bus.Commit(context.Background(), []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err == nil {
		t.Fatal("a commit whose fsync failed succeeded")
	}
	if err := bus.Err(); err == nil {
		t.Fatal("the bus did not fail")
	}
}

// TestChangesEndWhenTheBusFails: a Changes stream open when the bus fails
// (a log fsync failed: mmsb.ErrFailed) ends with unavailable naming the
// failure, and a new one ends at once, as on a closed bus. Before, the
// stream went on reporting the last LSN every poll: the UI's header LSN
// looked live and only the Overview's "state" card said FAILED. Reads
// still answer, so that the views go on showing the pages: GetPage (the
// page without its recent writes, which are in the log a failed bus no
// longer reads) and Provenance (its steps without their bytes) failed
// with the bus's error before; Overview says failed.
func TestChangesEndWhenTheBusFails(t *testing.T) {
	bus, tog, id := failingBus(t)
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus, PollInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	changes := changesStarted(ctx, t, c)
	failBus(t, bus, tog, id)
	if err := streamEnd(changes); connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), mmsb.ErrFailed.Error()) {
		t.Errorf("Changes after the bus failed: %v, want unavailable naming %q", err, mmsb.ErrFailed)
	}
	again, err := c.Changes(ctx, connect.NewRequest(&inspectorv1.ChangesRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := streamEnd(again); connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), mmsb.ErrFailed.Error()) {
		t.Errorf("a new Changes stream on a failed bus: %v, want unavailable naming %q", err, mmsb.ErrFailed)
	}
	if ctx.Err() != nil {
		t.Fatal("the Changes streams did not end before the test's deadline (10 s)")
	}
	// The page's bytes are read, its log is not: GetPage answered
	// unavailable (its search for the recent writes), and Provenance too
	// (the bytes of each step), before.
	page, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id)}))
	if err != nil || len(page.Msg.Data) != 8 {
		t.Fatalf("GetPage on a failed bus: %v, want its 8 bytes (a failed bus serves reads)", err)
	}
	prov, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(id), Length: 1}))
	if err != nil || len(prov.Msg.Steps) == 0 {
		t.Fatalf("Provenance on a failed bus: %v, want its steps", err)
	}
	ov, err := c.Overview(ctx, connect.NewRequest(&inspectorv1.OverviewRequest{}))
	if err != nil || !ov.Msg.Failed {
		t.Fatalf("Overview on a failed bus: %v, want an answer with failed set", err)
	}
}
