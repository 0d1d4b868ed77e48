package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
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
			`{"deltas":[{"page":"1","runs":[{"off":0,"data":"` + strings.Repeat("A", 8192) + `"}]}]}`, connect.CodeResourceExhausted, "larger than configured max"},
		{"unknown function", "Bind", "application/json", `{"child":"2","func":"nope","parents":["1"]}`, connect.CodeInvalidArgument, "nope"},
		{"cycle", "Bind", "application/json", `{"child":"1","func":"copy","parents":["1"]}`, connect.CodeInvalidArgument, "cycle"},
		{"read unknown page", "Read", "application/json", `{"items":[{"page":"42"}]}`, connect.CodeNotFound, "42"},
		{"read out of range", "Read", "application/json", `{"items":[{"page":"1","off":8,"length":9}]}`, connect.CodeInvalidArgument, "outside"},
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
	err = f.c.QueryLog(ctx, mmsb.LogQuery{Kinds: []mmsb.OpKind{99}}, func(*mmsb.LoggedOp) bool { return true })
	wantCode(t, err, connect.CodeInvalidArgument)
}

// FuzzCommitRequest feeds arbitrary bytes to the Commit handler as a
// protobuf and as a JSON body: no panic, and either success or a
// Connect error with a 4xx status; a failure leaves the state unchanged.
func FuzzCommitRequest(f *testing.F) {
	f.Add([]byte(`{"deltas":[{"page":"1","runs":[{"off":0,"data":"eQ=="}]}]}`), true)
	f.Add([]byte(`{"deltas":[{"page":"1","form":"DELTA_FORM_MASKED_SPARSE","mask":"AQ==","maskLen":8,"payload":"eQ=="}]}`), true)
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
		case resp.StatusCode >= 400 && resp.StatusCode < 500 && strings.Contains(buf.String(), `"code"`):
			if fx.hash(t) != before || fx.bus.LastLSN() != lsn {
				t.Fatalf("refused request changed the state: %s", buf.String())
			}
		default:
			t.Fatalf("status %d: %s", resp.StatusCode, buf.String())
		}
	})
}
