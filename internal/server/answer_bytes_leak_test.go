package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestAnswerBytesGivenBack: every answer that counted bytes against the
// bounds on answer bytes gives them back exactly once, however it ends: a
// Read that fails after it held its first item (the next out of range),
// one refused at the bound, answers sent whole, over Connect, gRPC and
// gRPC-Web, on HTTP/1.1 and HTTP/2; unread answers whose client reset
// its connection mid-answer, others cut by the answer deadline, and an
// HTTP/1.1 client that hung up after the first bytes. A leak refuses
// reads for ever: after each round nothing may be held, and a Read as
// large as the bounds allow beside none is still answered.
func TestAnswerBytesGivenBack(t *testing.T) {
	const page = 64 << 10
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: page})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// Long enough for the unread answers below to be held while the
	// others of their round are refused, short for the test.
	const answerTimeout = 3 * time.Second
	h := server.LimitRequests(srv.Mux(server.HTTPOptions{AnswerTimeout: answerTimeout}), 0, 64, quiet)
	server.CountLoopbackClients(h)
	// 4 pages of answers per client, 6 over all (and room for the items'
	// own cost, server.ReadItemCost each): a Read of 4 items passes alone,
	// and the third unread one from an address is refused.
	server.SetAnswerByteBounds(h, 6*page+8<<10, 4*page+4<<10)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServerAnswerTimeout(h, answerTimeout)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	addr := ln.Addr().String()

	settled := func(when string) {
		t.Helper()
		var total int64
		var clients int
		waitUntil(t, func() bool { total, clients = server.AnswerBytesHeld(h); return total == 0 && clients == 0 },
			func() string {
				return fmt.Sprintf("%s: the answers in flight still hold %d bytes (%d clients)", when, total, clients)
			})
	}
	items := func(n int, bad bool) []*mmsbv1.ReadItem {
		var its []*mmsbv1.ReadItem
		for range n {
			its = append(its, &mmsbv1.ReadItem{Page: uint64(id)})
		}
		if bad {
			its = append(its, &mmsbv1.ReadItem{Page: uint64(id), Off: page + 1, Length: 1})
		}
		return its
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
		{"grpc h2", h2, []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web http1", h1, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc-web h2", h2, []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		cl := mmsbv1connect.NewBusServiceClient(p.hc, "http://"+addr, p.opts...)
		for range 20 {
			_, err := cl.Read(ctx, connect.NewRequest(&mmsbv1.ReadRequest{Items: items(2, true)}))
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("%s: a Read whose last item is out of range: %v, want invalid_argument", p.name, err)
			}
			if _, err := cl.Read(ctx, connect.NewRequest(&mmsbv1.ReadRequest{Items: items(4, false)})); err != nil {
				t.Fatalf("%s: a Read of 4 pages alone: %v", p.name, err)
			}
			if _, err := cl.ListPages(ctx, connect.NewRequest(&mmsbv1.ListPagesRequest{})); err != nil {
				t.Fatalf("%s: ListPages: %v", p.name, err)
			}
			if _, err := cl.Provenance(ctx, connect.NewRequest(&mmsbv1.ProvenanceRequest{Page: uint64(id), Length: 1})); err != nil {
				t.Fatalf("%s: Provenance: %v", p.name, err)
			}
		}
		settled(p.name + ": failed and answered calls")
	}

	// Unread answers over HTTP/2: two Reads of 2 pages and one of 4 sent
	// at once, 8 pages past the per-client bound of 4 whatever their
	// order: those answered are held, the others refused at the bound
	// (after their items counted); then the connection is closed under
	// them (reset mid-answer).
	read := func(n int) []byte {
		return []byte(fmt.Sprintf(`{"items":[%s]}`, strings.TrimSuffix(strings.Repeat(fmt.Sprintf(`{"page":"%d"},`, id), n), ",")))
	}
	for round := range 5 {
		z := dialZeroWindowH2(t, addr)
		z.post(1, "/mmsb.v1.BusService/Read", "application/json", read(2))
		z.post(3, "/mmsb.v1.BusService/Read", "application/json", read(2))
		z.post(5, "/mmsb.v1.BusService/Read", "application/json", read(4))
		z.send(t)
		refused := 0
		waitUntil(t, func() bool {
			refused = 0
			for _, s := range []uint32{1, 3, 5} {
				h, ok, _ := z.state(s)
				if !h {
					return false
				}
				if !ok {
					refused++
				}
			}
			return true
		}, func() string { return fmt.Sprintf("round %d: 3 unread Reads not all answered", round) })
		if refused == 0 {
			t.Fatalf("round %d: unread Reads of 8 pages in all from one address, per-client bound 4 pages: none refused", round)
		}
		_ = z.c.Close()
		settled(fmt.Sprintf("round %d: unread answers reset by their client", round))
	}

	// Unread answers cut by the answer deadline, their connection open.
	z := dialZeroWindowH2(t, addr)
	z.post(1, "/mmsb.v1.BusService/Read", "application/json", read(2))
	z.post(3, "/mmsb.v1.BusService/Read", "application/json", read(2))
	z.send(t)
	waitUntil(t, func() bool {
		_, _, r1 := z.state(1)
		_, _, r3 := z.state(3)
		return r1 && r3
	}, func() string { return "2 unread Reads not reset at the answer deadline" })
	settled("unread answers cut by the answer deadline")

	// An HTTP/1.1 client that hangs up after the first bytes of its answer.
	for round := range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		body := read(8)
		fmt.Fprintf(c, "POST /mmsb.v1.BusService/Read HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, len(body), body)
		line, err := bufio.NewReader(c).ReadString('\n')
		_ = c.Close()
		if err != nil || !strings.Contains(line, " 200 ") {
			t.Fatalf("round %d: an HTTP/1.1 Read of 8 pages: %q, %v", round, line, err)
		}
		// Its handler ends once a write fails on the closed connection;
		// the next round's Read would be refused beside it meanwhile.
		settled(fmt.Sprintf("round %d: an HTTP/1.1 client that hung up mid-answer", round))
	}
}

// TestAnswerBytesRefusalIsServerBusy: the Go client reports a refusal at
// the bounds on answer bytes as client.ErrServerBusy (retry later), with
// the server's message naming the bound, for each call that counts:
// ReadPage, ListPages and Provenance beside an unread Read from the same
// address past the per-client bound.
func TestAnswerBytesRefusalIsServerBusy(t *testing.T) {
	ctx := context.Background()
	addr, id := answerBytesServer(t, 64<<10, 1<<30, 1<<10)
	z := dialZeroWindowH2(t, addr)
	z.post(1, "/mmsb.v1.BusService/Read", "application/json", []byte(fmt.Sprintf(`{"items":[{"page":"%d"}]}`, id)))
	z.send(t)
	waitUntil(t, func() bool { h, ok, _ := z.state(1); return h && ok },
		func() string { return "an unread Read of 64 KiB was not answered 200" })
	c, err := client.New("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	for name, call := range map[string]func() error{
		"ReadPage":   func() error { _, _, _, err := c.ReadPage(ctx, id); return err },
		"ListPages":  func() error { _, _, err := c.ListPages(ctx, 0, 0); return err },
		"Provenance": func() error { _, err := c.Provenance(ctx, id, 0, 1, 0); return err },
	} {
		err := call()
		if !errors.Is(err, client.ErrServerBusy) || !strings.Contains(err.Error(), server.AnswerBytesPerClientFlag) {
			t.Errorf("%s beside an unread Read past the per-client answer bytes bound: %v; want client.ErrServerBusy naming %q",
				name, err, server.AnswerBytesPerClientFlag)
		}
	}
}

// TestAnswerBytesCountReadItems: each item of a Read counts
// server.ReadItemCost besides the bytes it reads, whatever its length.
// Beside an unread Read of 1,024 one-byte ranges from the same address,
// a Read of 64 more is refused at a per-client bound of 64 KiB naming the
// bound; once the unread one is given up it is answered. Until 2026-12-07
// an item counted only its bytes: the unread Read counted 1 KiB, the
// second was answered, and a Read of 2^20 one-byte ranges, about 250 MiB
// of memory with its answer, counted 1 MiB (256 of them from one client
// within the per-client bound of 256 MiB).
func TestAnswerBytesCountReadItems(t *testing.T) {
	const bound = 64 << 10
	ctx := context.Background()
	addr, id := answerBytesServer(t, 64, 1<<30, bound)
	ranges := func(n int) []*mmsbv1.ReadItem {
		var its []*mmsbv1.ReadItem
		for i := range n {
			its = append(its, &mmsbv1.ReadItem{Page: uint64(id), Off: uint32(i % 64), Length: 1})
		}
		return its
	}
	body, err := proto.Marshal(&mmsbv1.ReadRequest{Items: ranges(1024)})
	if err != nil {
		t.Fatal(err)
	}
	z := dialZeroWindowH2(t, addr)
	z.post(1, "/mmsb.v1.BusService/Read", "application/proto", body)
	z.send(t)
	waitUntil(t, func() bool { h, ok, _ := z.state(1); return h && ok },
		func() string { return "an unread Read of 1,024 one-byte ranges was not answered 200" })
	cl := mmsbv1connect.NewBusServiceClient(http.DefaultClient, "http://"+addr)
	read := func() error {
		_, err := cl.Read(ctx, connect.NewRequest(&mmsbv1.ReadRequest{Items: ranges(64)}))
		return err
	}
	err = read()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get(server.BusyKey) != server.AnswerBytesPerClientFlag {
		t.Fatalf("a Read of 64 one-byte ranges beside an unread one of 1,024 (%d bytes counted per item), per-client bound %d: %v; want resource_exhausted, Mmsb-Busy %q",
			server.ReadItemCost, bound, err, server.AnswerBytesPerClientFlag)
	}
	_ = z.c.Close()
	var last error
	waitUntil(t, func() bool { last = read(); return last == nil },
		func() string {
			return fmt.Sprintf("the unread Read given up, a Read of 64 ranges still fails: %v", last)
		})
}

// TestAnswerBytesCountListedPages: each page a ListPages answer lists
// counts server.ListPageCost besides its encoded size. Beside an unread
// answer listing 1,000 pages from the same address, a ListPages of 100 is
// refused at a per-client bound of 64 KiB naming the bound, and answered
// once the unread one is given up. Until 2026-12-07 a page counted only
// its encoding (about 20 bytes of the 120 or so it holds): the unread
// answer counted 20 KB and the second was answered.
func TestAnswerBytesCountListedPages(t *testing.T) {
	const bound = 64 << 10
	ctx := context.Background()
	addr, _ := answerBytesServer(t, 8, 1<<30, bound)
	cl := mmsbv1connect.NewBusServiceClient(http.DefaultClient, "http://"+addr)
	specs := make([]*mmsbv1.PageSpec, 1000)
	for i := range specs {
		specs[i] = &mmsbv1.PageSpec{Size: 8}
	}
	if _, err := cl.CreatePages(ctx, connect.NewRequest(&mmsbv1.CreatePagesRequest{Pages: specs})); err != nil {
		t.Fatal(err)
	}
	z := dialZeroWindowH2(t, addr)
	z.post(1, "/mmsb.v1.BusService/ListPages", "application/json", []byte(`{"limit":1000}`))
	z.send(t)
	waitUntil(t, func() bool { h, ok, _ := z.state(1); return h && ok },
		func() string { return "an unread ListPages of 1,000 pages was not answered 200" })
	list := func() error {
		_, err := cl.ListPages(ctx, connect.NewRequest(&mmsbv1.ListPagesRequest{Limit: 100}))
		return err
	}
	err := list()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get(server.BusyKey) != server.AnswerBytesPerClientFlag {
		t.Fatalf("a ListPages of 100 pages beside an unread one of 1,000 (%d bytes counted per page besides its encoding), per-client bound %d: %v; want resource_exhausted, Mmsb-Busy %q",
			server.ListPageCost, bound, err, server.AnswerBytesPerClientFlag)
	}
	_ = z.c.Close()
	var last error
	waitUntil(t, func() bool { last = list(); return last == nil },
		func() string {
			return fmt.Sprintf("the unread ListPages given up, a ListPages of 100 still fails: %v", last)
		})
}
