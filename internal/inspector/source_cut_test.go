package inspector_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestSourcesAreCut: a write whose source is 1 MiB, read by 63 derived
// pages that one page sums, is named by its first 256 bytes and "…" in
// the page view, the log and each of the 63 provenance steps that reach
// it from the sum (one listed, 62 repeats), so that the provenance answer
// stays under 256 KiB; a short source (of the sum's last parent) comes
// whole. Before, each step carried the whole source: a provenance answer
// of 63 MiB.
func TestSourcesAreCut(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids := createSmallPages(t, bus, 66)
	src, short, mids, sum := ids[0], ids[1], ids[2:65], ids[65]
	for _, m := range mids {
		if err := bus.Bind(ctx, m, "f64.sum", nil, []mmsb.PageID{src}); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.Bind(ctx, sum, "f64.sum", nil, append(append([]mmsb.PageID(nil), mids...), short)); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("s", 1<<20)
	w := mmsb.Write(src, 0, f64(1))
	w.Source = long
	w2 := mmsb.Write(short, 0, f64(2))
	w2.Source = "sensor"
	if _, err := bus.Commit(ctx, []mmsb.Delta{w, w2}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	cut := long[:256] + "…"

	t.Run("page view", func(t *testing.T) {
		r, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(src)}))
		if err != nil || len(r.Msg.GetRecent()) != 1 || r.Msg.GetRecent()[0].GetSource() != cut {
			t.Fatalf("%v; want one recent write with the source cut", err)
		}
	})
	t.Run("log", func(t *testing.T) {
		s, err := c.QueryLog(ctx, connect.NewRequest(&inspectorv1.QueryLogRequest{Page: uint64(src)}))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for s.Receive() {
			if s.Msg().GetKind() == "delta" {
				got = append(got, s.Msg().GetSource())
			}
		}
		if s.Err() != nil || len(got) != 1 || got[0] != cut {
			t.Fatalf("%v; %d deltas, want one with the source cut", s.Err(), len(got))
		}
	})
	t.Run("provenance", func(t *testing.T) {
		r, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(sum), Length: 8}))
		if err != nil {
			t.Fatal(err)
		}
		named, shortNamed := 0, 0
		for _, st := range r.Msg.GetSteps() {
			switch {
			case st.GetPage() == uint64(src) && st.GetSource() == cut:
				named++
			case st.GetPage() == uint64(src):
				t.Errorf("a step names the source write with a source of %d bytes", len(st.GetSource()))
			case st.GetPage() == uint64(short) && st.GetSource() == "sensor":
				shortNamed++
			}
		}
		if size := proto.Size(r.Msg); named != 63 || shortNamed != 1 || size > 256<<10 {
			t.Fatalf("%d steps name the long-source write cut (want 63), %d the short one whole (want 1); answer %d bytes (want at most 256 KiB)", named, shortNamed, size)
		}
	})
}
