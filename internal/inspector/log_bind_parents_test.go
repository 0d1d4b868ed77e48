package inspector_test

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// bindLine returns the log view's line (QueryLog, newest or not) for the
// Bind of page child.
func bindLine(t *testing.T, c inspectorv1connect.InspectorServiceClient, child mmsb.PageID, newest bool) string {
	t.Helper()
	entries, err := drainLog(t, c, &inspectorv1.QueryLogRequest{Page: uint64(child), Newest: newest})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Kind == mmsb.OpBind.String() {
			return e.Detail
		}
	}
	t.Fatalf("no Bind in the log of page %d", child)
	return ""
}

// TestLogBindDecodesShownParentsOnly: the log view of a page bound to
// 2^16 parents (its creation and its Bind) allocates under 256 KiB, and
// its Bind's line lists the first parents then counts the rest exactly,
// "… and 65,4xx more)". The log query decoded every parent of the Bind,
// 512 KiB of page IDs and their growth (2.5 MB a call), to show the first
// 256 bytes.
func TestLogBindDecodesShownParentsOnly(t *testing.T) {
	ctx := context.Background()
	bus := memBus(t)
	const n = 1 << 16
	ids := createSmallPages(t, bus, n+1)
	sum := ids[n]
	if err := bus.Bind(ctx, sum, "f64.sum", nil, ids[:n]); err != nil {
		t.Fatal(err)
	}
	_, _, url := serveInspector(t, inspector.Options{Bus: bus})
	// A client that takes no gzip: a gzip writer (650 KB, from a pool
	// that a GC, or the race detector, empties) is not the query's work.
	c := inspectorv1connect.NewInspectorServiceClient(http.DefaultClient, url, connect.WithProtoJSON(), connect.WithAcceptCompression("gzip", nil, nil))
	for _, newest := range []bool{false, true} {
		line := bindLine(t, c, sum, newest)
		listed := strings.TrimPrefix(line, "f64.sum(")
		head, rest, ok := strings.Cut(listed, ", … and ")
		if !ok || len(line) > len("f64.sum(")+256+len(", … and 65,536 more)") {
			t.Fatalf("newest %v: Bind of %d parents: line %q, want its first parents then \", … and N more)\"", newest, n, line)
		}
		shown := strings.Split(head, ", ")
		for i, s := range shown {
			if s != strconv.FormatUint(uint64(ids[i]), 10) {
				t.Fatalf("newest %v: parent %d listed as %q, want %d (line %q)", newest, i, s, ids[i], line)
			}
		}
		want := strconv.Itoa(n - len(shown))
		want = want[:len(want)-3] + "," + want[len(want)-3:] + " more)"
		if rest != want {
			t.Errorf("newest %v: %d parents listed, then %q, want %q", newest, len(shown), rest, want)
		}
	}
	// The least of three calls: a pool the answer draws on may be filled
	// again during any one of them.
	got := ^uint64(0)
	runtime.GC()
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		bindLine(t, c, sum, false)
		runtime.ReadMemStats(&after)
		got = min(got, after.TotalAlloc-before.TotalAlloc)
	}
	t.Logf("the log view of the page allocated %d bytes", got)
	if got > 256<<10 {
		t.Errorf("the log view of page %d, bound to %d parents, allocated %d bytes, over 256 KiB: its Bind's parents are decoded whole", sum, n, got)
	}
}

// TestLogBindLongNameKeepsIsolate: the log line of a Bind to a function
// whose name is 300 bytes, not all ASCII (a right-to-left override, then
// two-byte runes), holds the name's first bytes cut on a rune boundary and
// marked "…", inside the isolate U+2068 … U+2069, closed, then the
// parents. The line was cut whole at 256 bytes, inside the name: the
// closing U+2069 was dropped, and the override ran on over the rest.
func TestLogBindLongNameKeepsIsolate(t *testing.T) {
	name := "\u202e" + strings.Repeat("é", 150) // 3 + 300 bytes
	bus, ids := busWithFunc(t, name)
	_, c, _ := serveInspector(t, inspector.Options{Bus: bus})
	parents := "(" + strconv.FormatUint(uint64(ids[0]), 10) + ", " + strconv.FormatUint(uint64(ids[1]), 10) + ")"
	for _, newest := range []bool{false, true} {
		line := bindLine(t, c, ids[2], newest)
		if !utf8.ValidString(line) {
			t.Fatalf("newest %v: line %q is not UTF-8", newest, line)
		}
		inner, ok := strings.CutPrefix(line, "\u2068")
		inner, ok2 := strings.CutSuffix(inner, "\u2069"+parents)
		if !ok || !ok2 || strings.ContainsAny(inner, "\u2068\u2069") {
			t.Fatalf("newest %v: line %q: want the name isolated in U+2068 … U+2069, closed, then %s", newest, line, parents)
		}
		cut, ok := strings.CutSuffix(inner, "…")
		if !ok || !strings.HasPrefix(name, cut) || len(cut) < 250 {
			t.Errorf("newest %v: name shown as %q, want the name's first ~256 bytes then …", newest, inner)
		}
	}
}
