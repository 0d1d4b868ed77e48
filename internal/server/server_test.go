package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/delta"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/tick"
)

// copyFunc is a recompute function for Bind tests: the child is a copy of
// its first parent.
func copyFunc(in [][]byte, _ []byte, out []byte) error {
	copy(out, in[0])
	return nil
}

type fixture struct {
	bus  *mmsb.Bus
	srv  *server.Server
	http *httptest.Server
	c    *client.Client
	logs *testutil.SyncBuffer
}

type fixOpts struct {
	dir      string
	bus      *mmsb.Options
	http     server.HTTPOptions
	queue    int
	ticks    bool
	clientO  []client.Option
	maxAsOf  int                  // Config.MaxAsOfReads
	maxWatch int                  // Config.MaxWatchers
	maxLogQ  int                  // Config.MaxLogQueries
	setup    func(*server.Server) // runs before the server serves
	follower bool                 // Config.Follower
}

func newFixture(t testing.TB, o fixOpts) *fixture {
	t.Helper()
	bo := o.bus
	if bo == nil {
		bo = &mmsb.Options{}
	}
	if bo.Functions == nil {
		bo.Functions = map[string]mmsb.RecomputeFunc{"copy": copyFunc}
	}
	bus, err := mmsb.Open(o.dir, bo)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := server.Config{Bus: bus, Logger: logger, WatchQueue: o.queue, ProgressInterval: 20 * time.Millisecond,
		MaxAsOfReads: o.maxAsOf, MaxWatchers: o.maxWatch, MaxLogQueries: o.maxLogQ, Follower: o.follower}
	if o.ticks {
		orch, err := tick.New(bus, nil)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Orchestrator = orch
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = orch.Run(ctx, 2*time.Millisecond) }()
		t.Cleanup(func() {
			cancel()
			testutil.Recv(t, done, "the orchestrator's Run did not return after its context ended")
			_ = orch.Close()
		})
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.setup != nil {
		o.setup(srv)
	}
	hs := httptest.NewUnstartedServer(srv.Mux(o.http))
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &p
	hs.Start()
	c, err := client.New(hs.URL, append([]client.Option{client.WithRetries(2, time.Millisecond)}, o.clientO...)...)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{bus: bus, srv: srv, http: hs, c: c, logs: logs}
	t.Cleanup(func() {
		hs.CloseClientConnections()
		_ = srv.Shutdown(context.Background())
		hs.Close()
		_ = bus.Close()
	})
	return f
}

func (f *fixture) hash(t testing.TB) uint64 {
	t.Helper()
	h, err := f.bus.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// postJSON sends what curl sends: a Connect unary call in JSON.
func postJSON(t testing.TB, url, method, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/mmsb.v1.BusService/"+method, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func wantCode(t testing.TB, err error, code connect.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want code %v, got success", code)
	}
	if got := connect.CodeOf(err); got != code {
		t.Fatalf("want code %v, got %v: %v", code, got, err)
	}
}

func TestClientEndToEnd(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, fixOpts{dir: t.TempDir(), ticks: true})
	c := f.c
	ids, err := c.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}, {Size: 64}})
	if err != nil || len(ids) != 3 {
		t.Fatalf("CreatePages: %v %v", ids, err)
	}
	if err := c.SetMetadata(ctx, ids[0], []mmsb.MetaEntry{{Key: "name", Value: []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	ds := []mmsb.Delta{mmsb.Write(ids[0], 3, []byte("hello"))}
	info, err := c.Commit(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if info.FirstLSN == 0 || info.LastLSN != info.FirstLSN || ds[0].Epoch != 1 || ds[0].LSN != info.FirstLSN {
		t.Fatalf("Commit info %+v delta %+v", info, ds[0])
	}
	// Masked form and an expected epoch.
	masked, err := delta.ToMaskedDense(&ds[0], 64)
	if err != nil {
		t.Fatal(err)
	}
	masked.CheckEpoch, masked.ExpectEpoch = true, 1
	if _, err := c.Commit(ctx, []mmsb.Delta{masked}); err != nil {
		t.Fatal(err)
	}
	data, epoch, lsn, err := c.ReadPage(ctx, ids[0])
	if err != nil || epoch != 2 || lsn < info.LastLSN || string(data[3:8]) != "hello" {
		t.Fatalf("ReadPage: %q %d %d %v", data, epoch, lsn, err)
	}
	want, wantEpoch, _ := f.bus.ReadPage(ids[0], nil)
	if !bytes.Equal(data, want) || epoch != wantEpoch {
		t.Fatal("ReadPage differs from the bus")
	}
	part, _, _, err := c.ReadRange(ctx, ids[0], 3, 5)
	if err != nil || string(part) != "hello" {
		t.Fatalf("ReadRange: %q %v", part, err)
	}
	old, oldEpoch, err := c.ReadPageAt(ctx, ids[0], info.FirstLSN-1)
	if err != nil || oldEpoch != 0 || !bytes.Equal(old, make([]byte, 64)) {
		t.Fatalf("ReadPageAt: %v %d %v", old, oldEpoch, err)
	}
	pages, next, err := c.ListPages(ctx, 0, 2)
	if err != nil || len(pages) != 2 || next != pages[1].ID || pages[0].ID != ids[0] || pages[0].Epoch != 2 {
		t.Fatalf("ListPages: %+v %d %v", pages, next, err)
	}
	rest, next, err := c.ListPages(ctx, next, 2)
	if err != nil || len(rest) != 1 || next != 0 {
		t.Fatalf("ListPages 2: %+v %d %v", rest, next, err)
	}
	all, err := c.PageIDs(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("PageIDs: %v %v", all, err)
	}
	if err := c.AddEdge(ctx, ids[0], ids[2], mmsb.EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveEdge(ctx, ids[0], ids[2], mmsb.EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := c.AddEdge(ctx, ids[0], ids[2], mmsb.EdgeCompiler); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveEdges(ctx, ids[0], ids[2]); err != nil {
		t.Fatal(err)
	}
	if len(f.bus.Edges()) != 0 {
		t.Fatalf("edges left: %v", f.bus.Edges())
	}
	if err := c.Bind(ctx, ids[1], "copy", nil, []mmsb.PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.bus.Binding(ids[1]); !ok {
		t.Fatal("Bind did not bind")
	}
	if err := c.Unbind(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.Submit(ctx, []mmsb.Delta{mmsb.Write(ids[2], 0, []byte("tick"))}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { b, _, _ := f.bus.ReadPage(ids[2], nil); return string(b[:4]) == "tick" })
	prov, err := c.Provenance(ctx, ids[0], 3, 5, 0)
	if err != nil || len(prov.Writes) == 0 || prov.Writes[0].LSN != info.FirstLSN+1 {
		t.Fatalf("Provenance: %+v %v", prov, err)
	}
	var ops []mmsb.LoggedOp
	if err := c.QueryLog(ctx, mmsb.LogQuery{Page: ids[0], Kinds: []mmsb.OpKind{mmsb.OpDelta}}, func(lo *mmsb.LoggedOp) bool {
		ops = append(ops, *lo)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(ops) != 2 || ops[0].LSN != info.FirstLSN || ops[0].Op.Delta.Page != ids[0] {
		t.Fatalf("QueryLog: %+v", ops)
	}
	ck, err := c.Checkpoint(ctx)
	if err != nil || ck.LSN == 0 {
		t.Fatalf("Checkpoint: %+v %v", ck, err)
	}
	st, err := c.Stats(ctx)
	if err != nil || st.GetPages() != 3 {
		t.Fatalf("Stats: %v %v", st, err)
	}
	if h, err := c.StateHash(ctx); err != nil || h != f.hash(t) {
		t.Fatalf("StateHash: %#x %v, want %#x", h, err, f.hash(t))
	}
	rep, err := c.VerifyReplay(ctx, false)
	if err != nil || rep.PagesDiffering != 0 || rep.LiveHash != rep.ReplayHash {
		t.Fatalf("VerifyReplay: %+v %v", rep, err)
	}
	if err := c.FreePage(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := f.bus.Page(ids[2]); !errors.Is(err, mmsb.ErrPageNotFound) {
		t.Fatalf("FreePage: page still there: %v", err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRawJSON drives every unary method the way curl does.
func TestRawJSON(t *testing.T) {
	f := newFixture(t, fixOpts{ticks: true})
	steps := []struct {
		method, body string
		want         string // substring of the response body
	}{
		{"CreatePages", `{"pages":[{"size":16},{"size":16}]}`, `"ids":["1","2"]`},
		{"SetMetadata", `{"page":"1","meta":[{"key":"k","value":"dg=="}]}`, `{}`},
		{"Commit", `{"deltas":[{"page":"1","runs":[{"off":2,"data":"aGk="}]}]}`, `"firstLsn":"4"`},
		{"Commit", `{"deltas":[{"page":"1","form":"DELTA_FORM_MASKED_DENSE","mask":"AQ==","maskLen":8,"payload":"eAAAAAAAAAA=","expectEpoch":"1"}]}`, `"epochs":["2"]`},
		{"Read", `{"items":[{"page":"1","off":2,"length":2}]}`, `"data":"aGk="`},
		{"Read", `{"items":[{"page":"1"}],"asOfLsn":"4"}`, `"epoch":"1"`},
		{"ListPages", `{"afterId":"1","limit":10}`, `"id":"2"`},
		{"Provenance", `{"page":"1","off":2,"length":2}`, `"lsn":"4"`},
		{"AddEdge", `{"parent":"1","child":"2","type":"EDGE_TYPE_CONTROL"}`, `{}`},
		{"RemoveEdge", `{"parent":"1","child":"2","allTypes":true}`, `{}`},
		{"Bind", `{"child":"2","func":"copy","parents":["1"]}`, `{}`},
		{"Unbind", `{"child":"2"}`, `{}`},
		{"Submit", `{"deltas":[{"page":"2","runs":[{"off":0,"data":"eg=="}]}]}`, `"accepted":1`},
		{"Checkpoint", `{}`, `"lsn"`},
		{"Stats", `{}`, `"lastLsn"`},
		{"Stats", `{"stateHash":true}`, `"stateHash"`},
		{"VerifyReplay", `{}`, `"ok":true`},
		{"FreePage", `{"page":"2"}`, `{}`},
	}
	for _, s := range steps {
		code, body := postJSON(t, f.http.URL, s.method, s.body, nil)
		if code != http.StatusOK || !strings.Contains(strings.ReplaceAll(body, " ", ""), s.want) {
			t.Fatalf("%s %s: %d %s (want %s)", s.method, s.body, code, body, s.want)
		}
	}
	// Server streams in Connect JSON are enveloped; the client covers them
	// (TestClientEndToEnd, the watch tests).
}

// TestGRPC: the same port speaks gRPC (cleartext HTTP/2), unary and streaming.
func TestGRPC(t *testing.T) {
	f := newFixture(t, fixOpts{})
	c, err := client.New(f.http.URL, client.WithGRPC())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("g"))})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	done := errors.New("done")
	err = c.Watch(ctx, client.WatchOptions{FromLSN: 1}, func(ev client.WatchEvent) error {
		n += len(ev.Changes)
		if ev.ProgressLSN >= info.LastLSN {
			return done
		}
		return nil
	})
	if !errors.Is(err, done) || n != 2 {
		t.Fatalf("watch over gRPC: %v, %d changes", err, n)
	}
}

// TestGzipOption: responses are not compressed by default, even for a
// client that accepts gzip; with GzipMinBytes they are.
func TestGzipOption(t *testing.T) {
	for _, c := range []struct {
		min  int
		want string
	}{{0, ""}, {1, "gzip"}} {
		f := newFixture(t, fixOpts{http: server.HTTPOptions{GzipMinBytes: c.min}})
		req, err := http.NewRequest(http.MethodPost, f.http.URL+"/mmsb.v1.BusService/Stats", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != c.want {
			t.Fatalf("GzipMinBytes %d: status %d, Content-Encoding %q, want %q", c.min, resp.StatusCode, resp.Header.Get("Content-Encoding"), c.want)
		}
	}
}

// TestReadAsOfManyItems: a Read as of an LSN answers every item (whole
// pages and ranges, of several pages, repeated) with the bytes and epoch
// the bus held at that LSN, as Bus.ReadPageAt gives them one by one.
func TestReadAsOfManyItems(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	var lsns []mmsb.LSN
	for i := range 4 {
		info, err := f.c.Commit(ctx, []mmsb.Delta{
			mmsb.Write(ids[0], uint32(i), []byte{byte('a' + i)}),
			mmsb.Write(ids[1], uint32(2*i), []byte{byte('A' + i), byte('A' + i)}),
		})
		if err != nil {
			t.Fatal(err)
		}
		lsns = append(lsns, info.LastLSN)
	}
	several := []*mmsbv1.ReadItem{
		{Page: uint64(ids[0])},
		{Page: uint64(ids[1]), Off: 2, Length: 5},
		{Page: uint64(ids[0]), Off: 1, Length: 2},
		{Page: uint64(ids[1])},
	}
	// Items of one page are answered by a replay of that page alone.
	one := []*mmsbv1.ReadItem{{Page: uint64(ids[1]), Off: 2, Length: 5}, {Page: uint64(ids[1])}}
	for _, items := range [][]*mmsbv1.ReadItem{several, one} {
		readAsOfEach(t, f, items, lsns)
	}
}

// readAsOfEach reads items as of each LSN and compares every answer with
// Bus.ReadPageAt.
func readAsOfEach(t *testing.T, f *fixture, items []*mmsbv1.ReadItem, lsns []mmsb.LSN) {
	t.Helper()
	ctx := context.Background()
	for _, at := range lsns {
		resp, err := f.c.Read(ctx, items, at)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.GetPages()) != len(items) || resp.GetLsn() != uint64(at) {
			t.Fatalf("as of %d: %d pages at LSN %d, want %d at %d", at, len(resp.GetPages()), resp.GetLsn(), len(items), at)
		}
		for i, it := range items {
			want, epoch, err := f.bus.ReadPageAt(ctx, mmsb.PageID(it.GetPage()), at)
			if err != nil {
				t.Fatal(err)
			}
			if it.GetLength() != 0 {
				want = want[it.GetOff() : it.GetOff()+it.GetLength()]
			}
			got := resp.GetPages()[i]
			if !bytes.Equal(got.GetData(), want) || got.GetEpoch() != uint64(epoch) {
				t.Fatalf("as of %d, item %d: %q at epoch %d, want %q at epoch %d", at, i, got.GetData(), got.GetEpoch(), want, epoch)
			}
		}
	}
}
