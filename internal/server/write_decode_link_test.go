package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestWriteDecodeFoundByGoroutine: ProtoCodec finds every binary write
// request it decodes by the goroutine serving it (holdDecode), over
// Connect, gRPC and gRPC-Web (no lookup misses: each decode counted),
// and the table it looks in holds none of the server's requests once
// they are answered, refused (too large, or busy beside a write in
// flight) or cancelled with their body half sent. Control: with
// countWrites serving the request on another goroutine, the way a
// Connect that decoded elsewhere would, every write's decode went
// uncounted, unseen.
func TestWriteDecodeFoundByGoroutine(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	// Once armed, the next Commit waits after its decode until released.
	var armed atomic.Bool
	decoded, release := make(chan struct{}), make(chan struct{})
	hold := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if req.Spec().Procedure == mmsbv1connect.BusServiceCommitProcedure && armed.CompareAndSwap(true, false) {
				close(decoded)
				<-release
			}
			return next(ctx, req)
		}
	})
	const limit = 4096
	h := server.LimitRequests(srv.Mux(server.HTTPOptions{MaxRequestBytes: limit, Interceptors: []connect.Interceptor{hold}}), 0, 0, quiet)
	// The requests the server has begun and not yet finished serving.
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	begun, inFlight := 0, 0
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		begun, inFlight = begun+1, inFlight+1
		cond.Broadcast()
		mu.Unlock()
		defer func() {
			mu.Lock()
			inFlight--
			cond.Broadcast()
			mu.Unlock()
		}()
		h.ServeHTTP(w, r)
	})
	waitFor := func(done func() bool) {
		mu.Lock()
		defer mu.Unlock()
		for !done() {
			cond.Wait()
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(outer, 0, quiet)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	url := "http://" + ln.Addr().String()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	t.Cleanup(h2c.CloseIdleConnections)
	protocols := []struct {
		name string
		rpc  mmsbv1connect.BusServiceClient
	}{
		{"Connect", mmsbv1connect.NewBusServiceClient(http.DefaultClient, url)},
		{"gRPC", mmsbv1connect.NewBusServiceClient(h2c, url, connect.WithGRPC())},
		{"gRPC-Web", mmsbv1connect.NewBusServiceClient(h2c, url, connect.WithGRPCWeb())},
	}
	commit := func(rpc mmsbv1connect.BusServiceClient, n int) error {
		_, err := rpc.Commit(ctx, connect.NewRequest(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{
			{Page: uint64(id), Runs: []*mmsbv1.Run{{Off: 0, Data: make([]byte, n)}}}}}))
		return err
	}

	missed := server.DecodeLinkMisses()
	for _, c := range protocols {
		missed := server.DecodeLinkMisses()
		for range 3 {
			if err := commit(c.rpc, 64); err != nil {
				t.Fatalf("%s: a Commit of 64 bytes: %v", c.name, err)
			}
		}
		if _, err := c.rpc.SetMetadata(ctx, connect.NewRequest(&mmsbv1.SetMetadataRequest{Page: uint64(id), Meta: []*mmsbv1.MetaEntry{{Key: "k", Value: []byte(c.name)}}})); err != nil {
			t.Fatalf("%s: SetMetadata: %v", c.name, err)
		}
		if n := server.DecodeLinkMisses() - missed; n != 0 {
			t.Errorf("%s: %d binary write requests were decoded without ProtoCodec finding them by their goroutine: their decode was not counted", c.name, n)
		}
	}

	// One Commit in flight, decoded, under a bound of 1 byte: each other
	// write is refused busy, one too large refused whatever the bound.
	server.SetWriteByteBounds(h, 1, 0)
	armed.Store(true)
	firstDone := make(chan error, 1)
	go func() { firstDone <- commit(protocols[0].rpc, 64) }()
	<-decoded
	for _, c := range protocols {
		for range 4 {
			if err := commit(c.rpc, 64); connect.CodeOf(err) != connect.CodeResourceExhausted {
				t.Errorf("%s: a Commit beside one in flight over a bound of 1 byte: %v; want resource_exhausted", c.name, err)
			}
			if err := commit(c.rpc, 2*limit); connect.CodeOf(err) != connect.CodeResourceExhausted {
				t.Errorf("%s: a Commit past --max-request-bytes: %v; want resource_exhausted", c.name, err)
			}
		}
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatalf("the Commit in flight: %v", err)
	}
	server.SetWriteByteBounds(h, server.MaxWriteBytes, server.MaxWriteBytesPerClient)

	// Commits cancelled with part of their body sent, once the server has
	// begun serving them.
	for _, hc := range []*http.Client{http.DefaultClient, h2c} {
		for range 4 {
			mu.Lock()
			before := begun
			mu.Unlock()
			cctx, cancel := context.WithCancel(ctx)
			pr, pw := io.Pipe()
			req, err := http.NewRequestWithContext(cctx, http.MethodPost, url+mmsbv1connect.BusServiceCommitProcedure, pr)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/grpc")
			done := make(chan struct{})
			go func() {
				defer close(done)
				if resp, err := hc.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			}()
			_, _ = pw.Write(binary.BigEndian.AppendUint32([]byte{0}, 1000))
			_, _ = pw.Write(bytes.Repeat([]byte{0x0a}, 10))
			waitFor(func() bool { return begun > before })
			cancel()
			_ = pw.CloseWithError(context.Canceled)
			<-done
		}
	}
	waitFor(func() bool { return inFlight == 0 })
	if n := server.WritesDecodingFor(h); n != 0 {
		t.Errorf("every request answered, refused or cancelled: %d still in the table ProtoCodec looks in; want none", n)
	}
	if held, _ := server.WriteBytesHeld(h); held != 0 {
		t.Errorf("every request answered, refused or cancelled: the writes hold %d bytes; want 0", held)
	}
	if n := server.DecodeLinkMisses() - missed; n != 0 {
		t.Errorf("%d binary write requests were decoded without ProtoCodec finding them by their goroutine", n)
	}
}

// TestWriteAloneOverBoundsDecodeCounted: on an idle server a write alone
// passes whatever its decode counts: a Commit of 16384 one-byte runs (139
// KB on the wire, within them, about 2.5 MB counted for its decode, past
// them) under bounds on write bytes of 1 MiB, over Connect, gRPC and
// gRPC-Web; scaled down from a 64 MiB Commit under the default 1 GiB.
func TestWriteAloneOverBoundsDecodeCounted(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	const runs = 1 << 14
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 2 * runs})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	h := server.LimitRequests(srv.Mux(server.HTTPOptions{}), 0, 0, quiet)
	server.SetWriteByteBounds(h, 1<<20, 1<<20)
	server.CountLoopbackClients(h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(h, 0, quiet)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	url := "http://" + ln.Addr().String()
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2c := &http.Client{Transport: &http.Transport{Protocols: &p}}
	t.Cleanup(h2c.CloseIdleConnections)
	d := &mmsbv1.Delta{Page: uint64(id)}
	for i := range runs {
		d.Runs = append(d.Runs, &mmsbv1.Run{Off: uint32(2 * i), Data: []byte{1}})
	}
	for _, c := range []struct {
		name string
		rpc  mmsbv1connect.BusServiceClient
	}{
		{"Connect", mmsbv1connect.NewBusServiceClient(http.DefaultClient, url)},
		{"gRPC", mmsbv1connect.NewBusServiceClient(h2c, url, connect.WithGRPC())},
		{"gRPC-Web", mmsbv1connect.NewBusServiceClient(h2c, url, connect.WithGRPCWeb())},
	} {
		lsn := bus.LastLSN()
		if _, err := c.rpc.Commit(ctx, connect.NewRequest(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{d}})); err != nil {
			t.Errorf("%s: a Commit of %d one-byte runs alone, under bounds on write bytes of 1 MiB: %v; want it applied", c.name, runs, err)
		} else if bus.LastLSN() == lsn {
			t.Errorf("%s: a Commit of %d one-byte runs alone: answered, not applied", c.name, runs)
		}
	}
}

// TestGoroutineIDAllocatesNothing: the goroutine number holdDecode looks
// a write up by names the calling goroutine (another's differs) and costs
// no allocation (twice a write). Control: with its buffer a local array,
// which runtime.Stack makes escape, it allocated 64 bytes a call.
func TestGoroutineIDAllocatesNothing(t *testing.T) {
	id := server.GoroutineID()
	other := make(chan uint64)
	go func() { other <- server.GoroutineID() }()
	if o := <-other; id == 0 || o == 0 || o == id || server.GoroutineID() != id {
		t.Fatalf("goroutine numbers: %d here, %d in another goroutine; want two different ones, not 0", id, o)
	}
	if raceEnabled {
		t.Skip("the race detector drops sync.Pool's items at random")
	}
	if n := testing.AllocsPerRun(100, func() { _ = server.GoroutineID() }); n != 0 {
		t.Errorf("goroutineID: %v allocations a call; want none", n)
	}
}
