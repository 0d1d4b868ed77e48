package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestUnreadAnswerBytesBounded: a client announcing an HTTP/2 window of
// 0 asks for 3 Reads of a 64 KiB page and reads none of their answers;
// with the bounds on answer bytes shrunk to 200 KiB, a 4th Read of the
// page (from the same address) is refused with resource_exhausted naming
// the bound (Mmsb-Busy), while a Read of 4 KiB still fits, and once the
// unread answers are given up (their connection closed) the page is
// answered again. The request bounds count answers, not bytes: until
// 2026-12-07 the 4th was answered, and a client could hold
// --max-requests-per-client (256) unread Reads of 64 MiB, 16 GiB of page
// data, for the answer timeout (2 minutes). Per client (127.0.0.1 counted
// as a client) and over all clients (no per-client bound).
func TestUnreadAnswerBytesBounded(t *testing.T) {
	const page, budget = 64 << 10, 200 << 10
	for _, c := range []struct {
		name             string
		total, perClient int64
		flag             string
	}{
		{"per client", 1 << 30, budget, server.AnswerBytesPerClientFlag},
		{"all clients", budget, 0, server.AnswerBytesFlag},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			addr, id := answerBytesServer(t, page, c.total, c.perClient)
			z := dialZeroWindowH2(t, addr)
			body := []byte(fmt.Sprintf(`{"items":[{"page":"%d"}]}`, id))
			for _, s := range []uint32{1, 3, 5} {
				z.post(s, "/mmsb.v1.BusService/Read", "application/json", body)
			}
			z.send(t)
			// Headers are sent once the handler answered, holding its page.
			waitUntil(t, func() bool {
				for _, s := range []uint32{1, 3, 5} {
					if h, ok, _ := z.state(s); !h || !ok {
						return false
					}
				}
				return true
			}, func() string { return "3 unread Reads of a 64 KiB page: not all answered 200 (with headers)" })

			cl := mmsbv1connect.NewBusServiceClient(http.DefaultClient, "http://"+addr)
			read := func(n uint32) error {
				_, err := cl.Read(ctx, connect.NewRequest(&mmsbv1.ReadRequest{Items: []*mmsbv1.ReadItem{{Page: uint64(id), Length: n}}}))
				return err
			}
			err := read(0)
			if err == nil {
				t.Fatalf("a Read of %d bytes with %d unread held and a bound of %d was answered", page, 3*page, budget)
			}
			if got := connect.CodeOf(err); got != connect.CodeResourceExhausted {
				t.Fatalf("a Read past the answer bytes bound: %v, want resource_exhausted", err)
			}
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Meta().Get(server.BusyKey) != c.flag {
				t.Fatalf("a Read past the answer bytes bound: want Mmsb-Busy %q: %v", c.flag, err)
			}
			// What the answers hold: the 3 unread Reads, and this one's
			// item (server.ReadItemCost each) before its page was refused.
			held := 3*(page+server.ReadItemCost) + server.ReadItemCost
			for _, want := range []string{c.flag, fmt.Sprint(budget), fmt.Sprint(held)} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not name %q", err.Error(), want)
				}
			}
			if err := read(4 << 10); err != nil {
				t.Fatalf("a Read of 4 KiB within the bound: %v", err)
			}
			// The unread answers given up, their bytes are given back.
			_ = z.c.Close()
			var last error
			waitUntil(t, func() bool { last = read(0); return last == nil },
				func() string {
					return fmt.Sprintf("the unread answers' connection closed, a Read of the page still fails: %v", last)
				})
		})
	}
}

// answerBytesServer serves an in-memory bus with one page of size bytes
// (written once, so that it has a provenance) behind LimitRequests, with
// the bounds on answer bytes total and perClient (0: no per-client bound;
// 127.0.0.1 counts as a client), on the HTTP server of NewHTTPServer.
func answerBytesServer(t *testing.T, size int, total, perClient int64) (addr string, id mmsb.PageID) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ctx := context.Background()
	if id, err = bus.CreatePage(ctx, mmsb.PageSpec{Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, []byte("x"))}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	requestsPerClient := 0
	if perClient > 0 {
		requestsPerClient = 64
	}
	h := server.LimitRequests(srv.Mux(server.HTTPOptions{}), 0, requestsPerClient, quiet)
	server.CountLoopbackClients(h)
	server.SetAnswerByteBounds(h, total, perClient)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(h, 0, quiet)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String(), id
}

// TestAnswerBytesBoundOtherAnswers: ListPages and Provenance answers
// count against the bounds on answer bytes as a Read's do: beside an
// unread Read of 64 KiB (alone, it passes a per-client bound of 1 KiB
// whatever its size), each is refused naming the per-client bound, and
// once the Read's answer is given up both are answered.
func TestAnswerBytesBoundOtherAnswers(t *testing.T) {
	ctx := context.Background()
	addr, id := answerBytesServer(t, 64<<10, 1<<30, 1<<10)
	z := dialZeroWindowH2(t, addr)
	z.post(1, "/mmsb.v1.BusService/Read", "application/json", []byte(fmt.Sprintf(`{"items":[{"page":"%d"}]}`, id)))
	z.send(t)
	waitUntil(t, func() bool { h, ok, _ := z.state(1); return h && ok },
		func() string { return "an unread Read of 64 KiB, alone past the bound, was not answered 200" })
	cl := mmsbv1connect.NewBusServiceClient(http.DefaultClient, "http://"+addr)
	calls := []struct {
		name string
		call func() error
	}{
		{"ListPages", func() error {
			_, err := cl.ListPages(ctx, connect.NewRequest(&mmsbv1.ListPagesRequest{}))
			return err
		}},
		{"Provenance", func() error {
			_, err := cl.Provenance(ctx, connect.NewRequest(&mmsbv1.ProvenanceRequest{Page: uint64(id), Length: 1}))
			return err
		}},
	}
	for _, c := range calls {
		err := c.call()
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get(server.BusyKey) != server.AnswerBytesPerClientFlag {
			t.Fatalf("%s beside an unread Read past the per-client answer bytes bound: %v; want resource_exhausted, Mmsb-Busy %q", c.name, err, server.AnswerBytesPerClientFlag)
		}
	}
	_ = z.c.Close()
	for _, c := range calls {
		var last error
		waitUntil(t, func() bool { last = c.call(); return last == nil },
			func() string { return fmt.Sprintf("%s once the unread Read was given up: %v", c.name, last) })
	}
}
