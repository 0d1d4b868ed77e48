package server_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// writeBytesServer serves bus behind LimitRequests (loopback counted per
// client) with the bounds on write bytes set to total and perClient, and
// returns its LimitRequests handler and address.
func writeBytesServer(t *testing.T, bus *mmsb.Bus, o server.HTTPOptions, total, perClient int64) (http.Handler, string) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	h := server.LimitRequests(srv.Mux(o), 0, 64, quiet)
	server.CountLoopbackClients(h)
	server.SetWriteByteBounds(h, total, perClient)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(h, 0, quiet)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return h, ln.Addr().String()
}

// announce sends, on a connection of its own, the headers of a Commit
// whose body is n bytes long (Content-Length) and none of its body: the
// request stays in flight until the connection is closed.
func announce(t *testing.T, addr, token string, n int64) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A bound on a server that never answers; it measures nothing.
	_ = c.SetDeadline(time.Now().Add(3 * time.Minute))
	auth := ""
	if token != "" {
		auth = "Authorization: Bearer " + token + "\r\n"
	}
	if _, err := fmt.Fprintf(c, "POST /mmsb.v1.BusService/Commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\n%sContent-Length: %d\r\n\r\n", auth, n); err != nil {
		t.Fatal(err)
	}
	return c
}

// announceSent is announce, then sent bytes of the body (zeros): a write
// request counts the bytes of its body that arrived, not the length it
// announced (TestWriteBytesAnnouncedIdleHoldsNothing).
func announceSent(t *testing.T, addr, token string, n int64, sent int) net.Conn {
	t.Helper()
	c := announce(t, addr, token, n)
	if _, err := c.Write(make([]byte, sent)); err != nil {
		t.Fatal(err)
	}
	return c
}

// answerOf reads the status and headers of the answer on c.
func answerOf(t *testing.T, c net.Conn) *http.Response {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestWriteBytesAnnouncedCapped: a write request counts against the
// bounds on write bytes the bytes of its body that arrived, no more than
// the server could hold of it (--max-request-bytes, here 64 KiB),
// whatever Content-Length it announces, and only once its credential is
// checked; one whose announced length (capped so) would not fit beside
// them is refused before its body is read. Were the announced length
// counted, before auth,
// one client announcing 1 GiB and sending nothing, alone and so let
// through, would hold 1 GiB of the bound, and every other client's writes
// would be refused as busy for as long as the body may take to arrive
// (up to server.BodyReadTimeout, 2 minutes); a client without a
// credential would be refused as busy rather than as unauthenticated. A
// refusal at the bound of a request of known length is answered through
// the interceptors, so that the RPC metrics count it (resource_exhausted).
func TestWriteBytesAnnouncedCapped(t *testing.T) {
	const maxBytes, bound = 64 << 10, 100 << 10
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[connect.Code]int{} // the Commits the outer interceptor saw end, by code
	record := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			resp, err := next(ctx, req)
			if req.Spec().Procedure == mmsbv1connect.BusServiceCommitProcedure {
				mu.Lock()
				seen[connect.CodeOf(err)]++
				mu.Unlock()
			}
			return resp, err
		}
	})
	toks := []server.Token{{Role: server.RoleWrite, Value: writeTok}}
	h, addr := writeBytesServer(t, bus, server.HTTPOptions{Auth: server.NewAuth(toks), MaxRequestBytes: maxBytes,
		OuterInterceptors: []connect.Interceptor{record}}, bound, bound)

	// A Commit announcing 1 GiB, with a credential, --max-request-bytes
	// of it sent: it holds what arrived.
	announceSent(t, addr, writeTok, 1<<30, maxBytes)
	const capped = maxBytes
	waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == capped },
		func() string {
			n, _ := server.WriteBytesHeld(h)
			return fmt.Sprintf("a Commit announcing 1 GiB under --max-request-bytes %d, %d bytes sent: the writes hold %d bytes, want %d", maxBytes, maxBytes, n, capped)
		})

	// Another client's Commit of 1 KiB fits beside it.
	cl := mmsbv1connect.NewBusServiceClient(http.DefaultClient, "http://"+addr)
	req := connect.NewRequest(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{{Page: uint64(id), Runs: []*mmsbv1.Run{{Data: bytes.Repeat([]byte{1}, 1<<10)}}}}})
	req.Header().Set("Authorization", "Bearer "+writeTok)
	if _, err := cl.Commit(ctx, req); err != nil {
		t.Fatalf("a Commit of 1 KiB beside one announcing 1 GiB (bound %d): %v", bound, err)
	}

	// Without a credential, a Commit announcing as much again is refused
	// as unauthenticated, not as busy.
	resp := answerOf(t, announce(t, addr, "", 1<<30))
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(server.BusyKey) != "" {
		t.Fatalf("a Commit without a credential announcing 1 GiB beside one holding %d bytes: HTTP %d, %s %q; want 401, unauthenticated",
			capped, resp.StatusCode, server.BusyKey, resp.Header.Get(server.BusyKey))
	}

	// With one, it is refused at the bound, without its body, and the
	// outer interceptor (the RPC metrics) sees the refusal.
	mu.Lock()
	before := seen[connect.CodeResourceExhausted]
	mu.Unlock()
	resp = answerOf(t, announce(t, addr, writeTok, 1<<30))
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if flag := resp.Header.Get(server.BusyKey); !strings.HasPrefix(flag, server.WriteBytesFlag) || !strings.Contains(string(body), "resource_exhausted") {
		t.Fatalf("a Commit announcing 1 GiB beside one holding %d bytes (bound %d): HTTP %d, %s %q, %s; want resource_exhausted at the bound on write bytes",
			capped, bound, resp.StatusCode, server.BusyKey, flag, body)
	}
	mu.Lock()
	after := seen[connect.CodeResourceExhausted]
	mu.Unlock()
	if after != before+1 {
		t.Fatalf("a Commit refused at the bound on write bytes: the outer interceptor saw %d such refusals, want %d (mmsb_rpc_requests_total misses it)", after-before, 1)
	}
}

// TestWriteBytesEveryWriteCounted: each write call counts what its
// message may hold before it does anything: a request sent gzipped (a few
// hundred bytes) whose message carries 200 KiB (an unknown field, which
// decoding keeps) is refused beside a write holding 150 KiB under a bound
// of 300 KiB, and not applied, whichever the write. Counting only their
// compressed bytes, and nothing once decoded, a client would hold
// --max-requests-per-client decoded messages of up to --max-request-bytes
// each in flight (FreePage, AddEdge, RemoveEdge and Unbind did; each
// write handler now calls holdWrite first).
func TestWriteBytesEveryWriteCounted(t *testing.T) {
	const held, bound = 150 << 10, 300 << 10
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	a, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	b, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	free, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64})
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.AddEdge(ctx, a, b, mmsb.EdgeData); err != nil {
		t.Fatal(err)
	}
	h, addr := writeBytesServer(t, bus, server.HTTPOptions{}, bound, bound)
	announceSent(t, addr, "", held+1, held)
	waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == held },
		func() string {
			n, _ := server.WriteBytesHeld(h)
			return fmt.Sprintf("the held Commit: the writes hold %d bytes, want %d", n, held)
		})

	// A message's fields, then an unknown one of 200 KiB.
	msg := func(fields ...uint64) []byte {
		var m []byte
		for i, v := range fields {
			m = protowire.AppendTag(m, protowire.Number(i+1), protowire.VarintType)
			m = protowire.AppendVarint(m, v)
		}
		m = protowire.AppendTag(m, 1000, protowire.BytesType)
		return protowire.AppendBytes(m, make([]byte, 200<<10))
	}
	for _, c := range []struct {
		method string
		body   []byte
	}{
		{"CreatePages", msg()},
		{"FreePage", msg(uint64(free))},
		{"SetMetadata", msg(uint64(a))},
		{"Commit", msg()},
		{"AddEdge", msg(uint64(b), uint64(free), 1)},
		{"RemoveEdge", msg(uint64(a), uint64(b), 0, 1)},
		{"Bind", msg(uint64(b))},
		{"Unbind", msg(uint64(b))},
		{"Submit", msg()},
	} {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		_, _ = zw.Write(c.body)
		_ = zw.Close()
		lsn := bus.LastLSN()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/mmsb.v1.BusService/"+c.method, bytes.NewReader(gz.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/proto")
		req.Header.Set("Content-Encoding", "gzip")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(answer), "resource_exhausted") || !strings.HasPrefix(resp.Header.Get(server.BusyKey), server.WriteBytesFlag) {
			t.Errorf("%s of %d bytes gzipped to %d beside a write holding %d bytes (bound %d): HTTP %d, %s %q, %s; want resource_exhausted at the bound on write bytes",
				c.method, len(c.body), gz.Len(), held, bound, resp.StatusCode, server.BusyKey, resp.Header.Get(server.BusyKey), answer)
		}
		if got := bus.LastLSN(); got != lsn {
			t.Errorf("%s refused at the bound on write bytes was applied: last LSN %d, was %d", c.method, got, lsn)
		}
		if n, _ := server.WriteBytesHeld(h); n != held {
			t.Errorf("%s refused: the writes hold %d bytes, want the held Commit's %d", c.method, n, held)
		}
	}
}

// TestWriteBytesGivenBack: every write request that counted bytes
// against the bounds on write bytes gives them back however it ends: a
// call without a credential, answered ones over Connect, gRPC and
// gRPC-Web on HTTP/1.1 and HTTP/2, one over --max-request-bytes (of
// known length and chunked), one whose gzipped body does not decode, a
// Submit the server refuses (no ticks), one whose handler panics, bodies
// cut mid-way (of known length and chunked, on HTTP/1.1), an HTTP/2 stream
// its client resets mid-body, and writes refused at the bound (of known
// length and chunked). A leak refuses writes for ever: after each nothing
// may be held.
func TestWriteBytesGivenBack(t *testing.T) {
	const maxBytes, bound = 64 << 10, 190 << 10
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	panics := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if req.Header().Get("X-Test-Panic") != "" {
				panic("a handler panicking on purpose")
			}
			return next(ctx, req)
		}
	})
	toks := []server.Token{{Role: server.RoleWrite, Value: writeTok}}
	h, addr := writeBytesServer(t, bus, server.HTTPOptions{Auth: server.NewAuth(toks), MaxRequestBytes: maxBytes,
		Interceptors: []connect.Interceptor{panics}}, bound, bound)
	settled := func(when string) {
		t.Helper()
		var total int64
		var clients int
		waitUntil(t, func() bool { total, clients = server.WriteBytesHeld(h); return total == 0 && clients == 0 },
			func() string {
				return fmt.Sprintf("%s: the writes still hold %d bytes (%d clients)", when, total, clients)
			})
	}
	commit := func(n int) *connect.Request[mmsbv1.CommitRequest] {
		req := connect.NewRequest(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{{Page: uint64(id), Runs: []*mmsbv1.Run{{Data: bytes.Repeat([]byte{7}, n)}}}}})
		req.Header().Set("Authorization", "Bearer "+writeTok)
		return req
	}

	h1 := &http.Client{Transport: &http.Transport{}}
	h2p := new(http.Protocols)
	h2p.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: &http.Transport{Protocols: h2p}}
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	for _, p := range []struct {
		name string
		hc   *http.Client
		opts []connect.ClientOption
	}{
		{"connect http1", h1, nil},
		{"connect h2", h2, nil},
		{"connect json h2", h2, []connect.ClientOption{connect.WithProtoJSON()}},
		{"connect gzip http1", h1, []connect.ClientOption{connect.WithSendGzip()}},
		{"grpc h2", h2, []connect.ClientOption{connect.WithGRPC()}},
		{"grpc gzip h2", h2, []connect.ClientOption{connect.WithGRPC(), connect.WithSendGzip()}},
		{"grpc-web http1", h1, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc-web h2", h2, []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		cl := mmsbv1connect.NewBusServiceClient(p.hc, "http://"+addr, p.opts...)
		if _, err := cl.Commit(ctx, commit(1<<10)); err != nil {
			t.Fatalf("%s: a Commit of 1 KiB: %v", p.name, err)
		}
		settled(p.name + ": an answered Commit")
		noCred := commit(1 << 10)
		noCred.Header().Del("Authorization")
		if _, err := cl.Commit(ctx, noCred); connect.CodeOf(err) != connect.CodeUnauthenticated {
			t.Fatalf("%s: a Commit without a credential: %v, want unauthenticated", p.name, err)
		}
		settled(p.name + ": a Commit without a credential")
		if _, err := cl.Commit(ctx, commit(maxBytes)); connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Fatalf("%s: a Commit over --max-request-bytes: %v, want resource_exhausted", p.name, err)
		}
		settled(p.name + ": a Commit over --max-request-bytes")
		sub := connect.NewRequest(&mmsbv1.SubmitRequest{})
		sub.Header().Set("Authorization", "Bearer "+writeTok)
		if _, err := cl.Submit(ctx, sub); connect.CodeOf(err) != connect.CodeFailedPrecondition {
			t.Fatalf("%s: a Submit without ticks: %v, want failed_precondition", p.name, err)
		}
		settled(p.name + ": a refused Submit")
		boom := commit(1 << 10)
		boom.Header().Set("X-Test-Panic", "1")
		if _, err := cl.Commit(ctx, boom); err == nil {
			t.Fatalf("%s: a Commit whose handler panics answered", p.name)
		}
		settled(p.name + ": a Commit whose handler panicked")
	}

	// Raw requests: a gzipped body that does not decode, one over
	// --max-request-bytes without a length, bodies cut mid-way.
	post := func(body io.Reader, n int64, gz bool) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/mmsb.v1.BusService/Commit", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = n
		req.Header.Set("Content-Type", "application/proto")
		req.Header.Set("Authorization", "Bearer "+writeTok)
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := h1.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("a bad Commit answered 200: %s", answer)
		}
	}
	post(strings.NewReader("not gzip at all"), 15, true)
	settled("a gzipped Commit that does not decode")
	post(io.MultiReader(bytes.NewReader(make([]byte, 2*maxBytes))), -1, false)
	settled("a chunked Commit over --max-request-bytes")
	// A gRPC message flagged compressed that does not inflate: counted
	// the most it may inflate to once whole, then given back.
	{
		garbage := "not gzip at all"
		env := append([]byte{1, 0, 0, 0, byte(len(garbage))}, garbage...)
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/mmsb.v1.BusService/Commit", bytes.NewReader(env))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Grpc-Encoding", "gzip")
		req.Header.Set("Te", "trailers")
		req.Header.Set("Authorization", "Bearer "+writeTok)
		resp, err := h2.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if st := resp.Trailer.Get("Grpc-Status") + resp.Header.Get("Grpc-Status"); st == "" || st == "0" {
			t.Fatalf("a gRPC Commit whose compressed message does not inflate: grpc-status %q, want an error", st)
		}
		settled("a gRPC Commit whose compressed message does not inflate")
	}
	// A body longer than its Content-Length: the request is what the
	// length announced (a message cut short), the rest a bad request.
	{
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		head := "POST /mmsb.v1.BusService/Commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nAuthorization: Bearer " + writeTok + "\r\n"
		if _, err := io.WriteString(c, head+"Content-Length: 100\r\n\r\n"+strings.Repeat("\x0a", 10<<10)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute)) // a bound on a hang, not a timing check
		answers, _ := io.ReadAll(c)
		_ = c.Close()
		if bytes.HasPrefix(answers, []byte("HTTP/1.1 200")) {
			t.Fatalf("a Commit whose body is longer than its Content-Length answered 200: %.200s", answers)
		}
		settled("a Commit whose body is longer than its Content-Length")
	}
	for _, chunked := range []bool{false, true} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		head := "POST /mmsb.v1.BusService/Commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nAuthorization: Bearer " + writeTok + "\r\n"
		part := make([]byte, 10<<10)
		if chunked {
			head += fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(part), part)
		} else {
			head += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", 40<<10, part)
		}
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
		const want = 10 << 10 // what arrived, of known length or not
		waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == want },
			func() string {
				n, _ := server.WriteBytesHeld(h)
				return fmt.Sprintf("a Commit cut mid-way: held %d, want %d", n, want)
			})
		_ = c.Close()
		settled(fmt.Sprintf("a Commit cut mid-way (chunked %v)", chunked))
	}

	// An HTTP/2 stream reset by its client mid-body.
	pr, pw := io.Pipe()
	rctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, "http://"+addr+"/mmsb.v1.BusService/Commit", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Authorization", "Bearer "+writeTok)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := h2.Do(req); err == nil {
			_ = resp.Body.Close()
		}
	}()
	if _, err := pw.Write(make([]byte, 10<<10)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == 10<<10 },
		func() string {
			n, _ := server.WriteBytesHeld(h)
			return fmt.Sprintf("an HTTP/2 Commit mid-body: held %d, want %d", n, 10<<10)
		})
	cancel()
	_ = pw.Close()
	<-done
	settled("an HTTP/2 Commit reset mid-body")

	// Writes refused at the bound beside two held ones announcing 150
	// KiB each, the most a message can be (64 KiB) of each sent.
	const heldEach = maxBytes
	hc1, hc2 := announceSent(t, addr, writeTok, 150<<10, maxBytes), announceSent(t, addr, writeTok, 150<<10, maxBytes)
	waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == 2*heldEach },
		func() string {
			n, _ := server.WriteBytesHeld(h)
			return fmt.Sprintf("two held Commits: held %d, want %d", n, 2*heldEach)
		})
	cl := mmsbv1connect.NewBusServiceClient(h1, "http://"+addr)
	if _, err := cl.Commit(ctx, commit(63<<10)); !errors.Is(err, client.ErrServerBusy) && connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Fatalf("a Commit of 63 KiB beside two holding %d bytes, bound %d: %v, want resource_exhausted", 2*heldEach, bound, err)
	}
	settledTo := func(when string, want int64) {
		t.Helper()
		waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == want },
			func() string {
				n, _ := server.WriteBytesHeld(h)
				return fmt.Sprintf("%s: held %d, want %d", when, n, want)
			})
	}
	settledTo("a Commit refused at the bound", 2*heldEach)
	post(io.MultiReader(bytes.NewReader(make([]byte, 63<<10))), -1, false)
	settledTo("a chunked Commit refused at the bound", 2*heldEach)
	// 3 Commits of 40 KiB at once beside them: one fits, two together
	// do not; whichever pass or are refused, all give back their bytes.
	var wg sync.WaitGroup
	codes := make([]connect.Code, 3)
	for i := range codes {
		wg.Go(func() {
			_, err := cl.Commit(ctx, commit(40<<10))
			codes[i] = connect.CodeOf(err)
		})
	}
	wg.Wait()
	settledTo(fmt.Sprintf("3 Commits at once beside the held ones (ended %v)", codes), 2*heldEach)
	_, _ = hc1.Close(), hc2.Close()
	settled("the held Commits closed")
}

// TestWriteBytesCompressedCountedUntilDecoded: a write whose messages are
// compressed counts the most one may inflate to (--max-request-bytes and
// the 5-byte envelope prefix) from the moment its message has arrived
// whole, before it is inflated, until it is decoded, then what its
// message holds: its few bytes on the wire say nothing of what decoding
// it will hold, since gzip inflates about 1000 to 1; before that, the
// bytes that arrived (counted from its start, one sending 10 bytes and
// then nothing held the bound's most for server.BodyReadTimeout). Counted at
// its compressed length until decoded, a client's
// --max-requests-per-client (256) gzipped Commits of 64 KiB, each
// inflating to 64 MiB, would pass the bounds on write bytes (16 MiB sent)
// and could all be decoding at once, 16 GiB of inflated messages and as
// much again decoded, before each was refused at the bound once decoded.
func TestWriteBytesCompressedCountedUntilDecoded(t *testing.T) {
	const maxBytes, bound = 128 << 10, 200 << 10
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 128 << 10})
	if err != nil {
		t.Fatal(err)
	}
	h, addr := writeBytesServer(t, bus, server.HTTPOptions{MaxRequestBytes: maxBytes}, bound, bound)

	// A gzipped Commit of 1 KiB, its headers and the first bytes of its
	// body sent.
	d := mmsb.Write(id, 0, bytes.Repeat([]byte{9}, 1<<10))
	msg, err := proto.Marshal(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{wire.DeltaToProto(&d)}})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(msg)
	_ = zw.Close()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Minute)) // a bound on a server that never answers
	if _, err := fmt.Fprintf(c, "POST /mmsb.v1.BusService/Commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s", gz.Len(), gz.Bytes()[:10]); err != nil {
		t.Fatal(err)
	}
	heldIs := func(want int64, what string) {
		t.Helper()
		waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == want },
			func() string {
				n, _ := server.WriteBytesHeld(h)
				return fmt.Sprintf("%s: the writes hold %d bytes, want %d", what, n, want)
			})
	}
	// Its first bytes count as they arrive: it could send nothing more.
	heldIs(10, fmt.Sprintf("a gzipped Commit of %d bytes on the wire, 10 of them sent, under --max-request-bytes %d", gz.Len(), maxBytes))

	// Beside it, a plain Commit holding 80 KiB of its body: the most the
	// gzipped one may inflate to no longer fits.
	plain := announceSent(t, addr, "", 100<<10, 80<<10)
	heldIs(10+80<<10, "a plain Commit holding 80 KiB beside it")

	// The rest of its body: whole, it counts the most it may inflate to
	// before it is inflated, which passes the bound: refused, not
	// applied.
	lsn := bus.LastLSN()
	if _, err := c.Write(gz.Bytes()[10:]); err != nil {
		t.Fatal(err)
	}
	resp := answerOf(t, c)
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if !strings.Contains(string(answer), "resource_exhausted") || !strings.HasPrefix(resp.Header.Get(server.BusyKey), server.WriteBytesFlag) {
		t.Fatalf("a gzipped Commit arrived whole beside writes holding %d bytes (bound %d, --max-request-bytes %d): HTTP %d, %s %q, %s; want resource_exhausted at the bound on write bytes",
			10+80<<10, bound, maxBytes, resp.StatusCode, server.BusyKey, resp.Header.Get(server.BusyKey), answer)
	}
	if got := bus.LastLSN(); got != lsn {
		t.Fatalf("the refused gzipped Commit was applied: last LSN %d, was %d", got, lsn)
	}
	heldIs(80<<10, "the gzipped Commit refused")
	_ = plain.Close()
	heldIs(0, "the plain Commit's connection closed")

	// Alone, sent whole, it is decoded, counts its message, and is
	// applied; once answered, nothing is held.
	cl := mmsbv1connect.NewBusServiceClient(http.DefaultClient, "http://"+addr, connect.WithSendGzip())
	if _, err := cl.Commit(ctx, connect.NewRequest(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{wire.DeltaToProto(&d)}})); err != nil {
		t.Fatalf("a gzipped Commit of 1 KiB alone: %v", err)
	}
	if got := bus.LastLSN(); got != lsn+1 {
		t.Fatalf("the gzipped Commit answered: last LSN %d, want %d", got, lsn+1)
	}
	heldIs(0, "the gzipped Commit answered")
}
