package inspector_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/inspector"
)

// TestRequestTooLargeNamesSetting: a request message larger than
// Options.MaxRequestBytes is refused with resource_exhausted naming the
// bound's setting (Options.MaxRequestBytesName: `mmsb serve` passes
// "--max-request-bytes") and its value, as the bus service's refusal
// does (server.ErrRequestTooLarge), over Connect (JSON and proto, of
// known length or chunked, and gzipped, inflating past it), gRPC and
// Connect's streaming protocol (Changes); without a name, the refusal
// names the option; a message of the bound is served. Control: until
// 2026-12-07 the inspector's refusals were Connect's "message size 1100
// is larger than configured max 1024" and, gzipped, "decompression
// stopped (1024 bytes)", naming no setting.
func TestRequestTooLargeNamesSetting(t *testing.T) {
	const limit = 1024
	_, mux := mountInspector(t, inspector.Options{Bus: memBus(t), MaxRequestBytes: limit, MaxRequestBytesName: "--max-request-bytes"})
	hs := httptest.NewUnstartedServer(mux)
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	_, plain := mountInspector(t, inspector.Options{Bus: memBus(t)})
	ps := httptest.NewServer(plain)
	t.Cleanup(ps.Close)

	// call answers whether the answer was resource_exhausted, and all it
	// said.
	call := func(base, proc, ct string, body io.Reader, gzipped bool) (exhausted bool, all string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/mmsb.inspector.v1.InspectorService/"+proc, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
		if ct == "application/grpc" {
			req.Header.Set("TE", "trailers")
		}
		resp, err := hs.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		all = string(answer) + " " + resp.Header.Get("Grpc-Message") + " " + resp.Trailer.Get("Grpc-Message")
		status := resp.Header.Get("Grpc-Status") + resp.Trailer.Get("Grpc-Status")
		return strings.Contains(all, `"code":"resource_exhausted"`) || status == "8", all
	}
	// message is an Overview or Changes request of n bytes: an unknown
	// field 1023 of bytes (4 <= n, n-4 < 16384).
	message := func(n int) []byte {
		return append(binary.AppendUvarint([]byte{0xfa, 0x3f}, uint64(n-4)), make([]byte, n-4)...)
	}
	envelope := func(n int) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(n)), message(n)...)
	}
	const want = "a message of 1100 bytes, more than --max-request-bytes 1024"
	for _, c := range []struct {
		name, base, proc, ct string
		body                 io.Reader
		gzipped              bool
		want                 string
	}{
		{"Connect JSON", hs.URL, "Overview", "application/json", strings.NewReader("{" + strings.Repeat(" ", 1098) + "}"), false, want},
		{"Connect proto", hs.URL, "Overview", "application/proto", bytes.NewReader(message(1100)), false, want},
		{"Connect proto, chunked", hs.URL, "Overview", "application/proto", io.MultiReader(bytes.NewReader(message(1100))), false,
			"bytes or more, more than --max-request-bytes 1024"},
		{"Connect JSON gzipped", hs.URL, "Overview", "application/json", bytes.NewReader(gzipPadded(`{}`, 4*limit)), true,
			"a compressed message inflating past --max-request-bytes 1024"},
		{"gRPC", hs.URL, "Overview", "application/grpc", bytes.NewReader(envelope(1100)), false, want},
		{"Connect stream", hs.URL, "Changes", "application/connect+proto", bytes.NewReader(envelope(1100)), false, want},
		{"no name given", ps.URL, "Overview", "application/json", strings.NewReader("{" + strings.Repeat(" ", 2<<20) + "}"), false,
			"more than inspector Options.MaxRequestBytes 1048576"},
	} {
		exhausted, all := call(c.base, c.proc, c.ct, c.body, c.gzipped)
		if !exhausted || !strings.Contains(all, c.want) {
			t.Errorf("%s: a message past the bound: resource_exhausted %v: %.300s; want it with %q", c.name, exhausted, all, c.want)
		}
	}
	// Messages of the bound, plain and gzipped, are served.
	if exhausted, all := call(hs.URL, "Overview", "application/json", strings.NewReader("{"+strings.Repeat(" ", limit-2)+"}"), false); exhausted || !strings.Contains(all, `"syncMode"`) {
		t.Errorf("an Overview of the bound: %.300s; want it served", all)
	}
	if exhausted, all := call(hs.URL, "Overview", "application/json", bytes.NewReader(gzipPadded(`{}`, limit-2)), true); exhausted || !strings.Contains(all, `"syncMode"`) {
		t.Errorf("an Overview gzipped, inflating to the bound: %.300s; want it served", all)
	}
}
