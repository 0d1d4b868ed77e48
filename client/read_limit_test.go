package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/client"
)

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestClientReadLimit: a server whose answer is larger than the client's
// read limit (DefaultReadMaxBytes unless raised) fails the call with
// ResourceExhausted. The client set no limit, so a hostile or broken
// server could make it buffer up to 4 GiB (an answer of the limit and one
// more MiB decoded as garbage instead). The control: a garbage answer of
// 1 MiB fails to decode, not for its size.
func TestClientReadLimit(t *testing.T) {
	for _, tc := range []struct {
		size int64
		code connect.Code
	}{
		{client.DefaultReadMaxBytes + 1<<20, connect.CodeResourceExhausted},
		{1 << 20, connect.CodeInvalidArgument},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/proto")
			w.Header().Set("Content-Length", strconv.FormatInt(tc.size, 10))
			_, _ = io.CopyN(w, zeros{}, tc.size)
		}))
		c, err := client.New(srv.URL, client.WithRetries(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Stats(context.Background())
		srv.Close()
		if connect.CodeOf(err) != tc.code {
			t.Fatalf("an answer of %d bytes: %v (%v), want %v", tc.size, err, connect.CodeOf(err), tc.code)
		}
	}
}
