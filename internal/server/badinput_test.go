package server_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestBadInput: each bad request gets its code, a message naming the
// problem, and leaves the state hash as it was.
func TestBadInput(t *testing.T) {
	f := newFixture(t, fixOpts{http: server.HTTPOptions{MaxRequestBytes: 4096}})
	ctx := context.Background()
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}, {Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	before := f.hash(t)
	cases := []struct {
		name, method, contentType, body string
		code                            connect.Code
		msg                             string // substring of the error message
	}{
		{"malformed JSON", "Commit", "application/json", `{"deltas":[{`, connect.CodeInvalidArgument, "unmarshal"},
		{"malformed protobuf", "Commit", "application/proto", "\xff\xff\xff\xff", connect.CodeInvalidArgument, "unmarshal"},
		{"unknown JSON field is ignored", "Commit", "application/json", `{"nope":1}`, connect.CodeInvalidArgument, "empty"},
		{"empty batch", "Commit", "application/json", `{}`, connect.CodeInvalidArgument, "empty"},
		{"write past the end", "Commit", "application/json",
			`{"deltas":[{"page":"1","runs":[{"off":10,"data":"AAAAAAAAAAAAAA=="}]}]}`, connect.CodeInvalidArgument, "page 1"},
		{"second delta bad, first good", "Commit", "application/json",
			`{"deltas":[{"page":"1","runs":[{"off":0,"data":"eQ=="}]},{"page":"2","runs":[{"off":99,"data":"eQ=="}]}]}`, connect.CodeInvalidArgument, "page 2"},
		{"unknown page", "Commit", "application/json",
			`{"deltas":[{"page":"99","runs":[{"off":0,"data":"eQ=="}]}]}`, connect.CodeNotFound, "99"},
		{"epoch conflict", "Commit", "application/json",
			`{"deltas":[{"page":"1","runs":[{"off":0,"data":"eQ=="}],"expectEpoch":"7"}]}`, connect.CodeAborted, "conflict"},
		{"masked with runs", "Commit", "application/json",
			`{"deltas":[{"page":"1","form":"DELTA_FORM_MASKED_DENSE","runs":[{"off":0,"data":"eQ=="}]}]}`, connect.CodeInvalidArgument, "masked"},
		{"unknown form", "Commit", "application/json", `{"deltas":[{"page":"1","form":7}]}`, connect.CodeInvalidArgument, "form"},
		{"oversized", "Commit", "application/json",
			`{"deltas":[{"page":"1","runs":[{"off":0,"data":"` + strings.Repeat("A", 8192) + `"}]}]}`, connect.CodeResourceExhausted, "larger than the server reads"},
		{"unknown function", "Bind", "application/json", `{"child":"2","func":"nope","parents":["1"]}`, connect.CodeInvalidArgument, "nope"},
		{"cycle", "Bind", "application/json", `{"child":"1","func":"copy","parents":["1"]}`, connect.CodeInvalidArgument, "cycle"},
		{"read unknown page", "Read", "application/json", `{"items":[{"page":"42"}]}`, connect.CodeNotFound, "42"},
		{"read out of range", "Read", "application/json", `{"items":[{"page":"1","off":8,"length":9}]}`, connect.CodeInvalidArgument, "outside"},
		{"read as of a future LSN", "Read", "application/json", `{"items":[{"page":"1"}],"asOfLsn":"1000"}`, connect.CodeInvalidArgument, "as_of_lsn 1000"},
		{"provenance range past 4 GiB", "Provenance", "application/json", `{"page":"1","off":4294967280,"length":32}`, connect.CodeInvalidArgument, "past the largest page size"},
		{"free unknown page", "FreePage", "application/json", `{"page":"42"}`, connect.CodeNotFound, "42"},
		{"create existing page", "CreatePages", "application/json", `{"pages":[{"id":"1","size":4}]}`, connect.CodeAlreadyExists, "1"},
		{"create bad size", "CreatePages", "application/json", `{"pages":[{"size":0}]}`, connect.CodeInvalidArgument, "size"},
		{"submit without ticks", "Submit", "application/json",
			`{"deltas":[{"page":"1","runs":[{"off":0,"data":"eQ=="}]}]}`, connect.CodeFailedPrecondition, "--ticks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/mmsb.v1.BusService/"+c.method, strings.NewReader(c.body))
			req.Header.Set("Content-Type", c.contentType)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			body := buf.String()
			if !strings.Contains(body, `"code":"`+c.code.String()+`"`) || !strings.Contains(body, c.msg) {
				t.Fatalf("%s: want %v mentioning %q, got %d %s", c.name, c.code, c.msg, resp.StatusCode, body)
			}
			if h := f.hash(t); h != before {
				t.Fatalf("%s: state hash changed", c.name)
			}
		})
	}
}

// TestCommitAtomic: a batch whose last delta is refused applies nothing
// (the Go client path).
func TestCommitAtomic(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	before := f.hash(t)
	lsn := f.bus.LastLSN()
	_, err = f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("ok")), mmsb.Write(id, 7, []byte("too long"))})
	wantCode(t, err, connect.CodeInvalidArgument)
	bad := mmsb.Write(id, 0, []byte("x"))
	bad.CheckEpoch, bad.ExpectEpoch = true, 5
	_, err = f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("ok")), bad})
	wantCode(t, err, connect.CodeAborted)
	if f.hash(t) != before || f.bus.LastLSN() != lsn {
		t.Fatal("a refused batch changed the state")
	}
	// The client refuses a kind that is none before asking (the server's
	// own refusal of one: TestQueryLogKindsOnce).
	err = f.c.QueryLog(ctx, mmsb.LogQuery{Kinds: []mmsb.OpKind{99}}, func(*mmsb.LoggedOp) bool { return true })
	if !errors.Is(err, mmsb.ErrInvalidOption) {
		t.Fatalf("QueryLog of kind 99: %v, want mmsb.ErrInvalidOption", err)
	}
}

// FuzzCommitRequest feeds arbitrary bytes to the Commit handler as a
// protobuf and as a JSON body: no panic, and either success or a
// Connect error with a 4xx status; a failure leaves the state unchanged,
// a success logs the batch (an accepted batch writes at least one byte),
// and the valid seeds succeed: a handler that refused every request
// passed this target before.
func FuzzCommitRequest(f *testing.F) {
	valid := []string{
		`{"deltas":[{"page":"1","runs":[{"off":0,"data":"eQ=="}]}]}`,
		`{"deltas":[{"page":"1","form":"DELTA_FORM_MASKED_SPARSE","mask":"AQ==","maskLen":8,"payload":"eQ=="}]}`,
	}
	for _, body := range valid {
		f.Add([]byte(body), true)
	}
	f.Add([]byte{0x0a, 0x06, 0x08, 0x01, 0x1a, 0x02, 0x12, 0x00}, false)
	f.Add([]byte{0x0a, 0x0a, 0x08, 0x01, 0x10, 0x01, 0x22, 0x01, 0x01, 0x28, 0x08, 0x32, 0x01}, false)
	fx := newFixture(f, fixOpts{http: server.HTTPOptions{MaxRequestBytes: 1 << 16}})
	if _, err := fx.c.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 16}, {Size: 4096}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		before := fx.hash(t)
		lsn := fx.bus.LastLSN()
		ct := "application/proto"
		if json {
			ct = "application/json"
		}
		req, _ := http.NewRequest(http.MethodPost, fx.http.URL+"/mmsb.v1.BusService/Commit", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			if fx.bus.LastLSN() <= lsn {
				t.Fatalf("commit answered OK, logged nothing (LSN %d): %s", lsn, buf.String())
			}
		case json && slices.Contains(valid, string(body)):
			t.Fatalf("valid request refused: status %d: %s", resp.StatusCode, buf.String())
		case resp.StatusCode >= 400 && resp.StatusCode < 500 && strings.Contains(buf.String(), `"code"`):
			if fx.hash(t) != before || fx.bus.LastLSN() != lsn {
				t.Fatalf("refused request changed the state: %s", buf.String())
			}
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, buf.String())
		}
	})
}

// TestReadResponseBound: a Read whose items add up to more page data than
// one answer may hold is refused before it is built, naming the bound; a
// few items of the same large page within it are answered.
func TestReadResponseBound(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: mmsb.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	items := func(n int, length uint32) []*mmsbv1.ReadItem {
		out := make([]*mmsbv1.ReadItem, n)
		for i := range out {
			out[i] = &mmsbv1.ReadItem{Page: uint64(id), Length: length}
		}
		return out
	}
	cases := []struct {
		name   string
		items  []*mmsbv1.ReadItem
		code   connect.Code // 0: success
		answer int          // bytes answered on success
	}{
		{"whole pages over the bound", items(5, 0), connect.CodeResourceExhausted, 0},
		{"whole pages within the bound", items(2, 0), 0, 2 * mmsb.MaxPageSize},
		{"small ranges of a large page", items(16, 1), 0, 16},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := f.c.Read(ctx, c.items, 0)
			if c.code != 0 {
				wantCode(t, err, c.code)
				if !strings.Contains(err.Error(), "bytes") {
					t.Fatalf("the error does not name the bound: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, p := range resp.GetPages() {
				n += len(p.GetData())
			}
			if n != c.answer {
				t.Fatalf("answered %d bytes, want %d", n, c.answer)
			}
		})
	}
}

// TestSubmitKeepsExpectedEpoch: a delta submitted through the client with
// an expected epoch the page is not at is rejected by the tick, as it is
// when submitted to the orchestrator in process; it is not applied
// unchecked.
func TestSubmitKeepsExpectedEpoch(t *testing.T) {
	f := newFixture(t, fixOpts{ticks: true})
	ctx := context.Background()
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	stale := mmsb.Write(ids[0], 0, []byte("stale"))
	stale.CheckEpoch, stale.ExpectEpoch = true, 7
	if err := f.c.Submit(ctx, []mmsb.Delta{stale, mmsb.Write(ids[1], 0, []byte("ok"))}); err != nil {
		t.Fatal(err)
	}
	// The second delta is applied in the tick of the first or a later one.
	waitFor(t, func() bool {
		_, e, err := f.bus.ReadPage(ids[1], nil)
		return err == nil && e == 1
	})
	data, epoch, err := f.bus.ReadPage(ids[0], nil)
	if err != nil {
		t.Fatal(err)
	}
	if epoch != 0 || !bytes.Equal(data, make([]byte, 8)) {
		t.Fatalf("a delta expecting epoch 7 was applied to a page at epoch 0: now %q at epoch %d", data, epoch)
	}
}
