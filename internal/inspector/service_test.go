package inspector_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/demo"
	"github.com/mmsb-go/mmsb/internal/inspector"
)

// serviceFixture serves the inspector alone (no auth) over a demo-shaped
// bus, for tests of the RPC answers without a browser.
func serviceFixture(t testing.TB) (*mmsb.Bus, demo.Layout, inspectorv1connect.InspectorServiceClient, string) {
	t.Helper()
	ctx := context.Background()
	bus := memBus(t)
	l, err := demo.Build(ctx, bus)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range l.Sensors {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, f64(float64(i)))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bus.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	_, c, url := serveInspector(t, inspector.Options{Bus: bus})
	return bus, l, c, url
}

// mountInspector makes an inspector with o, closed when the test ends,
// mounted on a new mux: for a test that serves it its own way (behind a
// handler that holds or counts calls, beside routes of its own, on a
// server it stops and starts).
func mountInspector(t testing.TB, o inspector.Options) (*inspector.Inspector, *http.ServeMux) {
	t.Helper()
	ins, err := inspector.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ins.Close() })
	mux := http.NewServeMux()
	ins.Mount(mux)
	return ins, mux
}

// serveInspector starts an inspector with o on a test HTTP server (no
// auth) and returns it, a Connect client speaking JSON, and its URL. The
// test's cleanup closes the server and the inspector.
func serveInspector(t testing.TB, o inspector.Options) (*inspector.Inspector, inspectorv1connect.InspectorServiceClient, string) {
	t.Helper()
	ins, mux := mountInspector(t, o)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ins, inspectorv1connect.NewInspectorServiceClient(ts.Client(), ts.URL, connect.WithProtoJSON()), ts.URL
}

func TestListPages(t *testing.T) {
	bus, l, c, _ := serviceFixture(t)
	ctx := context.Background()
	total := uint64(l.Pages())
	for _, tc := range []struct {
		name    string
		req     *inspectorv1.ListPagesRequest
		total   uint64
		firstID mmsb.PageID
		rows    int
	}{
		{"default", &inspectorv1.ListPagesRequest{}, total, l.Sensors[0], 50},
		{"offset", &inspectorv1.ListPagesRequest{Offset: 300, Limit: 100}, total, l.Sensors[0] + 300, int(total) - 300},
		{"past the end", &inspectorv1.ListPagesRequest{Offset: 10000}, total, 0, 0},
		{"descending", &inspectorv1.ListPagesRequest{Descending: true, Limit: 1}, total, l.Notes[len(l.Notes)-1], 1},
		{"one ID", &inspectorv1.ListPagesRequest{Search: "7"}, 1, 7, 1},
		{"ID range", &inspectorv1.ListPagesRequest{Search: "10 - 19"}, 10, 10, 10},
		{"derived", &inspectorv1.ListPagesRequest{Search: "derived", Limit: 1000}, uint64(len(l.Zones) + len(l.Regions) + 1), l.Zones[0], len(l.Zones) + len(l.Regions) + 1},
		{"function", &inspectorv1.ListPagesRequest{Search: "f64.max"}, uint64(len(l.Regions)), l.Regions[0], len(l.Regions)},
		{"flagged", &inspectorv1.ListPagesRequest{Search: "flagged"}, 1, l.Alarm, 1},
		{"by epoch, descending", &inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort_PAGE_SORT_EPOCH, Descending: true, Limit: 1}, total, l.Total, 1}, // epochs tie at 1: highest ID first
		{"by size, descending", &inspectorv1.ListPagesRequest{Sort: inspectorv1.PageSort_PAGE_SORT_SIZE, Descending: true, Limit: 1}, total, l.Notes[len(l.Notes)-1], 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := c.ListPages(ctx, connect.NewRequest(tc.req))
			if err != nil {
				t.Fatal(err)
			}
			if res.Msg.Total != tc.total || len(res.Msg.Rows) != tc.rows {
				t.Fatalf("total %d, %d rows; want %d, %d", res.Msg.Total, len(res.Msg.Rows), tc.total, tc.rows)
			}
			if tc.rows > 0 && mmsb.PageID(res.Msg.Rows[0].Id) != tc.firstID {
				t.Errorf("first row %d, want %d", res.Msg.Rows[0].Id, tc.firstID)
			}
		})
	}
	row, err := c.ListPages(ctx, connect.NewRequest(&inspectorv1.ListPagesRequest{Search: "257"}))
	if err != nil {
		t.Fatal(err)
	}
	if r := row.Msg.Rows[0]; r.Func != "f64.sum" || r.Type != "f64" || r.Size != demo.ValueBytes {
		t.Errorf("zone row %+v: want func f64.sum, type f64, size %d", r, demo.ValueBytes)
	}
	_ = bus
	for _, bad := range []*inspectorv1.ListPagesRequest{{Limit: 1001}, {Search: "no-such-thing"}, {Search: "20-10"}} {
		_, err := c.ListPages(ctx, connect.NewRequest(bad))
		if connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("ListPages(%v): %v, want InvalidArgument", bad, err)
		}
	}
}

func TestGetPageAsOfMatchesReplay(t *testing.T) {
	bus, l, c, _ := serviceFixture(t)
	ctx := context.Background()
	id := l.Notes[0]
	var lsns []mmsb.LSN
	for i := range 20 {
		info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, uint32(i*7%200), []byte(strings.Repeat(string(rune('a'+i)), 9)))})
		if err != nil {
			t.Fatal(err)
		}
		lsns = append(lsns, info.LastLSN)
	}
	for _, lsn := range lsns {
		want, wantEpoch, err := bus.ReadPageAt(ctx, id, lsn)
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), AsOfLsn: uint64(lsn), WindowLength: demo.NoteBytes}))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.Msg.Data, want) || res.Msg.Epoch != uint64(wantEpoch) {
			t.Fatalf("as of LSN %d: epoch %d, bytes differ %v; want epoch %d (the bus's replay)", lsn, res.Msg.Epoch, !bytes.Equal(res.Msg.Data, want), wantEpoch)
		}
		if len(res.Msg.Recent) == 0 || res.Msg.Recent[0].Lsn != uint64(lsn) {
			t.Fatalf("as of LSN %d: newest recent write %v, want LSN %d", lsn, res.Msg.Recent, lsn)
		}
	}
	// A window of the page, and the recent writes newest first.
	res, err := c.GetPage(ctx, connect.NewRequest(&inspectorv1.GetPageRequest{Id: uint64(id), WindowOffset: 64, WindowLength: 32, Recent: 3}))
	if err != nil {
		t.Fatal(err)
	}
	cur, _, _ := bus.ReadPage(id, nil)
	if !bytes.Equal(res.Msg.Data, cur[64:96]) || res.Msg.WindowOffset != 64 {
		t.Errorf("window [64,96) = %x, want %x", res.Msg.Data, cur[64:96])
	}
	if len(res.Msg.Recent) != 3 || res.Msg.Recent[0].Lsn != uint64(lsns[19]) || res.Msg.Recent[2].Lsn != uint64(lsns[17]) {
		t.Errorf("recent writes %v, want LSNs %v newest first", res.Msg.Recent, lsns[17:])
	}
	for _, bad := range []struct {
		req  *inspectorv1.GetPageRequest
		code connect.Code
	}{
		{&inspectorv1.GetPageRequest{Id: 999999}, connect.CodeNotFound},
		{&inspectorv1.GetPageRequest{Id: uint64(id), AsOfLsn: uint64(bus.LastLSN()) + 1}, connect.CodeInvalidArgument},
		{&inspectorv1.GetPageRequest{Id: uint64(id), WindowOffset: 1 << 20}, connect.CodeInvalidArgument},
		{&inspectorv1.GetPageRequest{Id: uint64(id), WindowLength: 1 << 20}, connect.CodeInvalidArgument},
		{&inspectorv1.GetPageRequest{Id: uint64(id), Recent: 65}, connect.CodeInvalidArgument},
		// Before its creation the page did not exist.
		{&inspectorv1.GetPageRequest{Id: uint64(id), AsOfLsn: 1}, connect.CodeNotFound},
	} {
		_, err := c.GetPage(ctx, connect.NewRequest(bad.req))
		if connect.CodeOf(err) != bad.code {
			t.Errorf("GetPage(%v): %v, want %v", bad.req, err, bad.code)
		}
	}
}

func TestProvenanceAndGraph(t *testing.T) {
	_, l, c, _ := serviceFixture(t)
	ctx := context.Background()
	p, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(l.Total), Offset: 0, Length: 8}))
	if err != nil {
		t.Fatal(err)
	}
	steps := p.Msg.Steps
	// total <- 4 regions <- (the max zone of each) <- sensors: a chain of depth 3.
	if len(steps) == 0 || !steps[0].Derived || steps[0].Kind != "derived" || p.Msg.ChainDepth != 3 {
		t.Fatalf("provenance of the total: %d steps, depth %d; want a derived root and depth 3", len(steps), p.Msg.ChainDepth)
	}
	for i, s := range steps[1:] {
		if s.Parent < 0 || int(s.Parent) > i || steps[s.Parent].Depth+1 != s.Depth {
			t.Fatalf("step %d: parent %d, depth %d: not a chain", i+1, s.Parent, s.Depth)
		}
	}
	if len(steps[0].Bytes) == 0 {
		t.Error("the root step carries no bytes")
	}
	if _, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(l.Total)})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("empty range: %v, want InvalidArgument", err)
	}
	// offset + length past 2^32: a range outside any page, not one that
	// wraps around to the start of it.
	if _, err := c.Provenance(ctx, connect.NewRequest(&inspectorv1.ProvenanceRequest{Page: uint64(l.Total), Offset: 0xFFFFFFF0, Length: 0x20})); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("range past 2^32: %v, want InvalidArgument", err)
	}

	g, err := c.Graph(ctx, connect.NewRequest(&inspectorv1.GraphRequest{Page: uint64(l.Regions[1]), Depth: 2}))
	if err != nil {
		t.Fatal(err)
	}
	// Up: 8 zones, 64 sensors; down: the total, the alarm.
	if n, e := len(g.Msg.Nodes), len(g.Msg.Edges); n != 1+8+64+2 || e != 8+64+2 {
		t.Errorf("graph: %d nodes, %d edges; want 75, 74", n, e)
	}
	layers := map[int32]int{}
	for _, n := range g.Msg.Nodes {
		layers[n.Layer]++
	}
	if layers[-2] != 64 || layers[-1] != 8 || layers[0] != 1 || layers[1] != 1 || layers[2] != 1 {
		t.Errorf("layers %v", layers)
	}
	small, err := c.Graph(ctx, connect.NewRequest(&inspectorv1.GraphRequest{Page: uint64(l.Regions[1]), Depth: 2, MaxNodes: 10}))
	if err != nil {
		t.Fatal(err)
	}
	if !small.Msg.Truncated || len(small.Msg.Nodes) != 10 {
		t.Errorf("max_nodes 10: %d nodes, truncated %v", len(small.Msg.Nodes), small.Msg.Truncated)
	}
}

func TestQueryLogStream(t *testing.T) {
	bus, l, c, _ := serviceFixture(t)
	ctx := context.Background()
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(l.Notes[1], 3, []byte("hello"))}); err != nil {
		t.Fatal(err)
	}
	st, err := c.QueryLog(ctx, connect.NewRequest(&inspectorv1.QueryLogRequest{Page: uint64(l.Notes[1])}))
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	var last *inspectorv1.LogEntry
	for st.Receive() {
		kinds = append(kinds, st.Msg().Kind)
		last = st.Msg()
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(kinds, ",") != "create,delta" || string(last.Data) != "hello" || last.Ranges[0].Lo != 3 || last.Ranges[0].Hi != 8 {
		t.Errorf("log of the note: kinds %v, last %+v", kinds, last)
	}
	limited, err := c.QueryLog(ctx, connect.NewRequest(&inspectorv1.QueryLogRequest{Limit: 7}))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for limited.Receive() {
		n++
	}
	if n != 7 {
		t.Errorf("limit 7: %d operations", n)
	}
}

// FuzzInspectorRequests feeds arbitrary JSON bodies to every unary method:
// each must answer with a response or a Connect error of a client-side
// code, never a panic or an internal error.
func FuzzInspectorRequests(f *testing.F) {
	_, _, _, url := serviceFixture(f)
	methods := []string{"Overview", "ListPages", "GetPage", "Provenance", "Graph"}
	for _, seed := range []string{
		`{}`, `{"offset":"3","limit":10,"sort":"PAGE_SORT_EPOCH","search":"derived"}`,
		`{"id":"257","asOfLsn":"5","windowOffset":8,"windowLength":16}`, `{"page":"257","offset":0,"length":8}`,
		`{"page":"293","depth":4,"maxNodes":5}`, `{"search":"1-"}`, `{"id":"18446744073709551615"}`, `not json`,
	} {
		for i := range methods {
			f.Add(uint8(i), seed)
		}
	}
	hc := &http.Client{}
	f.Fuzz(func(t *testing.T, m uint8, body string) {
		method := methods[int(m)%len(methods)]
		resp, err := hc.Post(url+"/"+inspectorv1connect.InspectorServiceName+"/"+method, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			return
		}
		var e struct{ Code string }
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s(%q): status %d, body %q is not a Connect error", method, body, resp.StatusCode, raw)
		}
		switch e.Code {
		case "invalid_argument", "not_found", "out_of_range":
		default:
			t.Fatalf("%s(%q): code %q (%s)", method, body, e.Code, raw)
		}
	})
}

func TestNewNeedsBus(t *testing.T) {
	if _, err := inspector.New(inspector.Options{}); !errors.Is(err, inspector.ErrNoBus) {
		t.Fatalf("New without a bus: %v", err)
	}
}
