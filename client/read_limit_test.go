package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
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

// TestUnaryOverReadLimitNamed: a unary answer over the client's read
// limit fails with ResourceExhausted and an error that names the call and
// the option that sets the limit, as Provenance's, Watch's and QueryLog's
// do; until 2026-12-06 a Read, ListPages or Stats answer said only
// connect's "message size N is larger than configured max M". The
// control: the same read under the limit succeeds.
func TestUnaryOverReadLimitNamed(t *testing.T) {
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Mux(server.HTTPOptions{}))
	defer hs.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()
	c, err := client.New(hs.URL, client.WithRetries(0, 0), client.WithConnectOptions(connect.WithReadMaxBytes(1024)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.ReadRange(ctx, id, 0, 512); err != nil {
		t.Fatalf("control: %v", err)
	}
	_, _, _, err = c.ReadPage(ctx, id)
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("ReadPage of 4 KiB with a 1 KiB limit: %v, want resource_exhausted", err)
	}
	for _, want := range []string{"Read:", "WithReadMaxBytes", "configured max 1024"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("ReadPage: %q does not name %q", err, want)
		}
	}
}
