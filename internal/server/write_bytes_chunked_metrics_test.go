package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestWriteBytesChunkedRefusalCounted: a write whose body comes without a
// length (chunked on HTTP/1.1, an HTTP/2 stream without content-length,
// as gRPC clients send every call) and passes the bound on write bytes as
// it is read is refused with resource_exhausted (Mmsb-Busy), not applied,
// and counted in mmsb_rpc_requests_total{code="resource_exhausted"} like
// a refusal of known length. Its read failed inside Connect's decoding,
// which answers before any interceptor runs: until 2026-12-07 only the
// log's warning showed it.
func TestWriteBytesChunkedRefusalCounted(t *testing.T) {
	const maxBytes, bound = 64 << 10, 100 << 10
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	reg, rpcMetrics, err := srv.NewMetrics()
	if err != nil {
		t.Fatal(err)
	}
	toks := []server.Token{{Role: server.RoleWrite, Value: writeTok}}
	h := server.LimitRequests(srv.Mux(server.HTTPOptions{Auth: server.NewAuth(toks), MaxRequestBytes: maxBytes,
		OuterInterceptors: []connect.Interceptor{rpcMetrics}}), 0, 64, quiet)
	server.CountLoopbackClients(h)
	server.SetWriteByteBounds(h, bound, bound)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var lengths atomic.Int64 // write requests that came with a length
	hs := server.NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength >= 0 && r.URL.Path == mmsbv1connect.BusServiceCommitProcedure && r.Header.Get("Authorization") != "" {
			lengths.Add(1)
		}
		h.ServeHTTP(w, r)
	}), 0, quiet)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	addr := ln.Addr().String()
	refusals := func() float64 {
		t.Helper()
		got, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		fams := map[string]*dto.MetricFamily{}
		for _, f := range got {
			fams[f.GetName()] = f
		}
		return metricValue(fams, "mmsb_rpc_requests_total",
			map[string]string{"procedure": mmsbv1connect.BusServiceCommitProcedure, "code": "resource_exhausted"})
	}

	// A Commit announcing 150 KiB, 64 KiB of it sent, holds 64 KiB of
	// the bound; a Commit of 60 KiB beside it passes the bound as its
	// body is read.
	announceSent(t, addr, writeTok, 150<<10, maxBytes)
	const held = maxBytes
	heldIs := func(when string) {
		t.Helper()
		waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == held },
			func() string {
				n, _ := server.WriteBytesHeld(h)
				return fmt.Sprintf("%s: the writes hold %d bytes, want %d", when, n, held)
			})
	}
	heldIs("a Commit announcing 150 KiB")
	lengths.Store(0) // that one's
	msg := &mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{{Page: uint64(id), Runs: []*mmsbv1.Run{{Data: bytes.Repeat([]byte{7}, 60<<10)}}}}}

	// Every client sends its body without a length (unlengthed), and
	// the server checks that none arrived with one.
	h1 := &http.Client{Transport: unlengthed{&http.Transport{}}}
	h2p := new(http.Protocols)
	h2p.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: unlengthed{&http.Transport{Protocols: h2p}}}
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	for _, c := range []struct {
		name string
		hc   *http.Client
		opts []connect.ClientOption
	}{
		{"grpc h2", h2, []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web http1", h1, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"connect http1", h1, nil},
		{"connect json h2", h2, []connect.ClientOption{connect.WithProtoJSON()}},
	} {
		lsn, before := bus.LastLSN(), refusals()
		req := connect.NewRequest(msg)
		req.Header().Set("Authorization", "Bearer "+writeTok)
		_, err := mmsbv1connect.NewBusServiceClient(c.hc, "http://"+addr, c.opts...).Commit(ctx, req)
		var ce *connect.Error
		code, busy := connect.CodeOf(err), ""
		if errors.As(err, &ce) {
			busy = ce.Meta().Get(server.BusyKey)
		}
		if n := lengths.Swap(0); n != 0 {
			t.Fatalf("%s: %d of the Commits came with a Content-Length; the test sends none", c.name, n)
		}
		if code != connect.CodeResourceExhausted || !strings.HasPrefix(busy, server.WriteBytesFlag) {
			t.Fatalf("%s: a Commit of 60 KiB without a length beside one holding %d bytes (bound %d): %v (%v), %s %q; want resource_exhausted at the bound on write bytes",
				c.name, held, bound, code, err, server.BusyKey, busy)
		}
		if got := bus.LastLSN(); got != lsn {
			t.Fatalf("%s: the refused Commit was applied: last LSN %d, was %d", c.name, got, lsn)
		}
		if got := refusals() - before; got != 1 {
			t.Errorf("%s: a Commit without a length refused at the bound on write bytes moved mmsb_rpc_requests_total{code=\"resource_exhausted\"} by %v, want 1", c.name, got)
		}
		heldIs(c.name + ", refused")
	}
}

// unlengthed is a transport that sends every request body without a
// length: chunked on HTTP/1.1, an HTTP/2 stream without content-length.
type unlengthed struct{ rt http.RoundTripper }

func (u unlengthed) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r = r.Clone(r.Context())
		// Its reader hides the body's type, which says its length.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(r.Body), r.Body}
		r.ContentLength, r.GetBody = -1, nil
		r.Header.Del("Content-Length")
	}
	return u.rt.RoundTrip(r)
}
