package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mmsb-go/mmsb"
)

// TestInvalidUTF8RequestRefused: a binary (application/proto) request
// holding a string that is not UTF-8 (a delta's source; the wire's
// strings are protobuf strings) is refused with invalid_argument, not
// internal, and nothing is committed; the same request with a UTF-8
// source commits (the control). A JSON request cannot hold such a
// string (JSON text is UTF-8).
func TestInvalidUTF8RequestRefused(t *testing.T) {
	f := newFixture(t, fixOpts{})
	id, err := f.bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	body := func(src string) []byte {
		var run, d, req []byte
		run = protowire.AppendTag(run, 2, protowire.BytesType) // Run.data
		run = protowire.AppendBytes(run, []byte{7})
		d = protowire.AppendTag(d, 1, protowire.VarintType) // Delta.page
		d = protowire.AppendVarint(d, uint64(id))
		d = protowire.AppendTag(d, 3, protowire.BytesType) // Delta.runs
		d = protowire.AppendBytes(d, run)
		d = protowire.AppendTag(d, 7, protowire.BytesType) // Delta.source
		d = protowire.AppendString(d, src)
		req = protowire.AppendTag(req, 1, protowire.BytesType) // CommitRequest.deltas
		return protowire.AppendBytes(req, d)
	}
	post := func(src string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/mmsb.v1.BusService/Commit", bytes.NewReader(body(src)))
		req.Header.Set("Content-Type", "application/proto")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	before := f.bus.LastLSN()
	code, msg := post("bad\xffsrc")
	if code != http.StatusBadRequest || !strings.Contains(msg, "invalid_argument") || !strings.Contains(strings.ToLower(msg), "utf-8") {
		t.Errorf("Commit with a source that is not UTF-8: HTTP %d %s; want 400 invalid_argument saying UTF-8", code, msg)
	}
	if got := f.bus.LastLSN(); got != before {
		t.Errorf("the refused Commit logged LSNs %d..%d", before+1, got)
	}
	if code, msg := post("good"); code != http.StatusOK {
		t.Errorf("the control Commit: HTTP %d %s", code, msg)
	}
}
