package inspector_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestEventTextIsBounded: a refused AddEdge that would close a cycle
// through 3,000 pages (its error names all of them, about 15 KB) is kept
// as a cycle-refused event whose error and text are cut to 1 KiB, marked
// "…"; a short cycle's comes whole. Before, the event kept the whole
// message twice: for a chain of a million pages 16 MB an event, and the
// ring keeps 256 of them and sends them all to every Events stream.
func TestEventTextIsBounded(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	ids := createSmallPages(t, bus, 3000)
	for i := 1; i < len(ids); i++ {
		if err := bus.AddEdge(ctx, ids[i-1], ids[i], mmsb.EdgeData); err != nil {
			t.Fatal(err)
		}
	}
	ins, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	refuse := ins.Interceptor().WrapUnary(func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		m := req.Any().(*mmsbv1.AddEdgeRequest)
		return nil, bus.AddEdge(ctx, mmsb.PageID(m.GetParent()), mmsb.PageID(m.GetChild()), mmsb.EdgeData)
	})
	cases := []struct {
		name          string
		parent, child mmsb.PageID
		cut           bool
	}{
		{"a cycle through 3,000 pages", ids[len(ids)-1], ids[0], true},
		{"control: a cycle through 2 pages", ids[1], ids[0], false},
	}
	for _, tc := range cases {
		_, err := refuse(ctx, connect.NewRequest(&mmsbv1.AddEdgeRequest{Parent: uint64(tc.parent), Child: uint64(tc.child)}))
		if !errors.Is(err, mmsb.ErrCycle) {
			t.Fatalf("%s: AddEdge: %v, want ErrCycle", tc.name, err)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.Events(sctx, connect.NewRequest(&inspectorv1.EventsRequest{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !s.Receive() {
				t.Fatalf("no event: %v", s.Err())
			}
			ev := s.Msg()
			for _, f := range []struct{ name, text string }{{"error", ev.GetError()}, {"text", ev.GetText()}} {
				cut := strings.HasSuffix(f.text, "…")
				if !strings.Contains(f.text, "would close cycle") || cut != tc.cut || len(f.text) > 1024+len("…") || !utf8.ValidString(f.text) {
					t.Errorf("event %s: %d bytes, cut %v (want %v, at most 1 KiB): %.80q…", f.name, len(f.text), cut, tc.cut, f.text)
				}
			}
		})
	}
}

// TestEventText: short texts are kept, long ones cut at 1 KiB on a rune
// boundary and marked, invalid UTF-8 escaped.
func TestEventText(t *testing.T) {
	long := strings.Repeat("a", 1023) + "é" + "tail"
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"flag page=3", "flag page=3"},
		{strings.Repeat("x", 1024), strings.Repeat("x", 1024)},
		{strings.Repeat("x", 1025), strings.Repeat("x", 1024) + "…"},
		{long, strings.Repeat("a", 1023) + "…"},
		{"bad \xff", `bad \xff`},
	} {
		if got := inspector.EventText(c.in); got != c.want {
			t.Errorf("eventText(%.40q… %d bytes) = %.40q… (%d bytes), want %d bytes", c.in, len(c.in), got, len(got), len(c.want))
		}
	}
}
