package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestRequestTooLargeNamesFlag: a request message larger than
// --max-request-bytes is refused with resource_exhausted naming the flag
// and its value (server.ErrRequestTooLarge's text), over Connect (proto
// and JSON, of known length or chunked, and gzipped, inflating past it),
// gRPC, gRPC-Web and Connect's streaming protocol; a message of the
// limit is served. Control: Connect's own refusal, "message size 1100
// is larger than configured max 1024", named no flag.
func TestRequestTooLargeNamesFlag(t *testing.T) {
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	const limit = 1024
	hs := httptest.NewUnstartedServer(srv.Mux(server.HTTPOptions{MaxRequestBytes: limit}))
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	hc := hs.Client()
	// call answers the code (by protocol) and everything the answer said.
	call := func(proc, ct string, body io.Reader, header map[string]string) (code, all string) {
		req, err := http.NewRequest(http.MethodPost, hs.URL+"/mmsb.v1.BusService/"+proc, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		if strings.HasPrefix(ct, "application/grpc") && !strings.Contains(ct, "web") {
			req.Header.Set("TE", "trailers")
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		status := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
		all = string(answer) + " " + resp.Header.Get("Grpc-Message") + " " + resp.Trailer.Get("Grpc-Message")
		flat := strings.ReplaceAll(strings.ToLower(string(answer)), " ", "")
		switch {
		case strings.Contains(all, `"code":"resource_exhausted"`), status == "8", strings.Contains(flat, "grpc-status:8"):
			return "resource_exhausted", all
		case resp.StatusCode == http.StatusOK && (status == "0" || strings.Contains(flat, "grpc-status:0") ||
			!strings.HasPrefix(ct, "application/grpc") && !strings.Contains(all, `"code"`)):
			return "ok", all
		}
		return "other", all
	}
	// message is a Stats request of n bytes: an unknown field 1023 of
	// bytes (n >= 4, n-4 < 16384).
	message := func(n int) []byte {
		return append(binary.AppendUvarint([]byte{0xfa, 0x3f}, uint64(n-4)), make([]byte, n-4)...)
	}
	envelope := func(n int) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(n)), message(n)...)
	}
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write(append(append([]byte("{"), bytes.Repeat([]byte(" "), 4*limit)...), '}'))
	_ = zw.Close()
	const want = "more than --max-request-bytes 1024"
	for _, c := range []struct {
		name, proc, ct string
		body           io.Reader
		header         map[string]string
		want           string
	}{
		{"Connect proto", "Stats", "application/proto", bytes.NewReader(message(1100)), nil, want},
		{"Connect proto, chunked", "Stats", "application/proto", io.MultiReader(bytes.NewReader(message(1100))), nil, want},
		{"Connect JSON", "Stats", "application/json", strings.NewReader("{" + strings.Repeat(" ", 1100) + "}"), nil, want},
		{"Connect JSON gzipped", "Stats", "application/json", bytes.NewReader(zipped.Bytes()), map[string]string{"Content-Encoding": "gzip"}, "inflating past --max-request-bytes 1024"},
		{"gRPC", "Stats", "application/grpc", bytes.NewReader(envelope(1100)), nil, want},
		{"gRPC-Web", "Stats", "application/grpc-web+proto", bytes.NewReader(envelope(1100)), nil, want},
		{"Connect stream", "Watch", "application/connect+proto", bytes.NewReader(envelope(1100)), nil, want},
	} {
		code, all := call(c.proc, c.ct, c.body, c.header)
		if code != "resource_exhausted" || !strings.Contains(all, c.want) {
			t.Errorf("%s: a message past --max-request-bytes %d: %s: %s; want resource_exhausted with %q", c.name, limit, code, all, c.want)
		}
	}
	// A Stats of the limit's size (unknown fields) is served.
	if code, all := call("Stats", "application/grpc", bytes.NewReader(envelope(limit)), nil); code != "ok" {
		t.Errorf("a gRPC Stats of --max-request-bytes: %s: %s; want it served", code, all)
	}
	if code, all := call("Stats", "application/grpc-web+proto", bytes.NewReader(envelope(limit)), nil); code != "ok" {
		t.Errorf("a gRPC-Web Stats of --max-request-bytes: %s: %s; want it served", code, all)
	}
	json := "{" + strings.Repeat(" ", limit-2) + "}"
	if code, all := call("Stats", "application/json", strings.NewReader(json), nil); code != "ok" {
		t.Errorf("a Connect JSON Stats of --max-request-bytes: %s: %s; want it served", code, all)
	}
	// Gzipped, inflating to the limit exactly: served (the decompressor
	// refuses a byte more, not the limit).
	zipped.Reset()
	zw = gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(json))
	_ = zw.Close()
	if code, all := call("Stats", "application/json", bytes.NewReader(zipped.Bytes()), map[string]string{"Content-Encoding": "gzip"}); code != "ok" {
		t.Errorf("a gzipped Connect JSON Stats inflating to --max-request-bytes: %s: %s; want it served", code, all)
	}
	atLimit := message(limit)
	if code, all := call("Stats", "application/proto", bytes.NewReader(atLimit), nil); code != "ok" || len(atLimit) != limit {
		t.Errorf("a Connect Stats of %d bytes under --max-request-bytes %d: %s: %s; want it served", len(atLimit), limit, code, all)
	}
}
