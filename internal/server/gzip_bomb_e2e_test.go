package server_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/server"
)

// TestGzipBombRequestRefused: a gzip request inflating past
// --max-request-bytes is refused with resource_exhausted by the server's
// own decompressor, which stops at the limit ("decompression stopped");
// a compressed request within it is served. Connect's default measured
// the whole message first (TestGzipBombStopsAtLimit).
func TestGzipBombRequestRefused(t *testing.T) {
	f := newFixture(t, fixOpts{http: server.HTTPOptions{MaxRequestBytes: 1 << 20}})
	gz := func(s string, pad int) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte(s[:len(s)-1]))
		_, _ = zw.Write(bytes.Repeat([]byte(" "), pad))
		_, _ = zw.Write([]byte(s[len(s)-1:]))
		_ = zw.Close()
		return buf.Bytes()
	}
	cases := []struct {
		name   string
		body   []byte
		status int
		says   string
	}{
		{"inflates to 64 MiB", gz(`{}`, 64<<20), http.StatusTooManyRequests, "decompression stopped"},
		{"control: within the limit", gz(`{}`, 1<<10), http.StatusOK, `"syncMode"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, f.http.URL+"/mmsb.v1.BusService/Stats", bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(string(b), c.says) {
				t.Fatalf("status %d %s; want %d with %q", resp.StatusCode, b, c.status, c.says)
			}
		})
	}
}
