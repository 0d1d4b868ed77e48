package server_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// fuzzedProcedures are the unary methods FuzzUnaryRequests sends
// arbitrary bodies to (Commit has FuzzCommitRequest; Checkpoint and
// VerifyReplay take no fields that reach the bus).
var fuzzedProcedures = []string{"CreatePages", "FreePage", "SetMetadata", "Read", "ListPages",
	"Provenance", "AddEdge", "RemoveEdge", "Bind", "Unbind", "Submit", "Stats"}

// fuzzHTTP bounds each request of FuzzUnaryRequests: a request the
// server does not answer within it fails the target, its input kept.
var fuzzHTTP = &http.Client{Timeout: 20 * time.Second}

// FuzzUnaryRequests sends arbitrary bodies, as protobuf or JSON, to the
// unary methods of the service: never a panic (the connection would
// break) nor a 5xx (internal, unknown: a hostile value reaching the bus
// unchecked), but success or a Connect error with a 4xx status (429 for
// resource_exhausted included); a refusal leaves the state unchanged.
// Its seeds are the hostile values of the request-decoding review of
// 2026-12-06: page IDs at 2^64-1, sizes and offsets at 2^32-1, negative
// and overflowing JSON numbers, empty and huge counts, unknown enum
// values; each ran with one of these results then.
func FuzzUnaryRequests(f *testing.F) {
	for _, s := range []struct {
		proc int
		body string
	}{
		{0, `{"pages":[{"size":4294967295}]}`},
		{0, `{"pages":[{"id":"18446744073709551615","size":8}]}`},
		{0, `{"pages":[{"size":8,"meta":[{"key":"","value":""}]}]}`},
		{0, `{"pages":[]}`},
		{0, `{"pages":[{"size":-1}]}`},
		{1, `{"page":"18446744073709551615"}`},
		{2, `{"page":"1","meta":[{"key":"k","value":"eA=="},{"key":"k","value":""}]}`},
		{3, `{"items":[{"page":"1","off":4294967295,"length":4294967295}]}`},
		{3, `{"items":[{"page":"1","off":4,"length":4294967293}],"asOfLsn":"18446744073709551615"}`},
		{3, `{"items":[]}`},
		{4, `{"afterId":"18446744073709551615","limit":4294967295}`},
		{5, `{"page":"1","off":4294967295,"length":4294967295,"depth":-2147483648}`},
		{5, `{"page":"18446744073709551615","depth":2147483647}`},
		{6, `{"parent":"1","child":"1","type":99}`},
		{6, `{"parent":"18446744073709551615","child":"1"}`},
		{7, `{"parent":"1","child":"2","type":-1,"allTypes":true}`},
		{8, `{"child":"1","func":"copy","parents":["1","18446744073709551615"]}`},
		{8, `{"child":"1","func":"","parents":[]}`},
		{9, `{"child":"0"}`},
		{10, `{"deltas":[]}`},
		{11, `{"stateHash":true}`},
	} {
		f.Add(uint8(s.proc), []byte(s.body), true)
	}
	f.Add(uint8(3), []byte{0x0a, 0x0c, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x01}, false)
	f.Add(uint8(0), []byte{0x0a, 0x06, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f}, false)
	fx := newFixture(f, fixOpts{http: server.HTTPOptions{MaxRequestBytes: 1 << 16}})
	if _, err := fx.c.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 16}, {Size: 4096}}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, proc uint8, body []byte, json bool) {
		name := fuzzedProcedures[int(proc)%len(fuzzedProcedures)]
		before := fx.hash(t)
		lsn := fx.bus.LastLSN()
		ct := "application/proto"
		if json {
			ct = "application/json"
		}
		req, _ := http.NewRequest(http.MethodPost, fx.http.URL+"/mmsb.v1.BusService/"+name, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		resp, err := fuzzHTTP.Do(req)
		if err != nil {
			t.Fatalf("%s %q: %v (did the handler panic?)", name, body, err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
		case resp.StatusCode >= 400 && resp.StatusCode < 500 && strings.Contains(buf.String(), `"code"`):
			if fx.hash(t) != before || fx.bus.LastLSN() != lsn {
				t.Fatalf("%s %q refused, and the state changed: %s", name, body, buf.String())
			}
		default:
			t.Fatalf("%s %q: status %d: %s", name, body, resp.StatusCode, buf.String())
		}
	})
}
