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
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// TestWriteBytesBounded: the bytes the write requests in flight hold are
// bounded as the answers' are. A client holds a Commit of 150 KiB in
// flight (its body still arriving, of known length or chunked, counted
// as it is read); with the bounds
// on write bytes shrunk to 200 KiB, a Commit of 100 KiB from the same
// address (per client) or any (all clients) is refused with
// resource_exhausted naming the bound and what is held (Mmsb-Busy; the
// Go client's client.ErrServerBusy), and is not applied, while one of 1
// KiB fits; a Commit of 100 KiB sent without a length (chunked) is
// refused alike as it is read, and one sent gzipped (about 200 bytes),
// which counts the most it may inflate to until it is decoded
// (TestWriteBytesCompressedCountedUntilDecoded), before it is read; once
// the held request is given up, the Commit of 100 KiB is
// applied, and a Commit larger than the bound passes alone. The request
// bounds count requests, not bytes: until 2026-12-07 the Commit of 100
// KiB was applied beside the other, and a client held 256 decoded
// Commits of 64 MiB in flight, 16 GiB.
func TestWriteBytesBounded(t *testing.T) {
	const held, budget = 150 << 10, 200 << 10
	for _, c := range []struct {
		name             string
		total, perClient int64
		flag             string
		chunked          bool
	}{
		{"per client", 1 << 30, budget, server.WriteBytesPerClientFlag, false},
		{"all clients", budget, 0, server.WriteBytesFlag, false},
		{"per client, chunked", 1 << 30, budget, server.WriteBytesPerClientFlag, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
			bus, err := mmsb.Open("", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = bus.Close() })
			id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 512 << 10})
			if err != nil {
				t.Fatal(err)
			}
			srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			requestsPerClient := 0
			if c.perClient > 0 {
				requestsPerClient = 64
			}
			h := server.LimitRequests(srv.Mux(server.HTTPOptions{}), 0, requestsPerClient, quiet)
			server.CountLoopbackClients(h)
			server.SetWriteByteBounds(h, c.total, c.perClient)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			hs := server.NewHTTPServer(h, 0, quiet)
			go func() { _ = hs.Serve(ln) }()
			t.Cleanup(func() { _ = hs.Close() })
			addr := ln.Addr().String()

			// The held Commit: its headers and 150 KiB of its body
			// (counted as it arrives); never the rest.
			hc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer hc.Close()
			req := "POST /mmsb.v1.BusService/Commit HTTP/1.1\r\nHost: x\r\nContent-Type: application/proto\r\n"
			if c.chunked {
				req += fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", held, bytes.Repeat([]byte{0}, held))
			} else {
				req += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", held+1, bytes.Repeat([]byte{0}, held))
			}
			if _, err := io.WriteString(hc, req); err != nil {
				t.Fatal(err)
			}
			want := int64(held)
			waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == want },
				func() string {
					n, _ := server.WriteBytesHeld(h)
					return fmt.Sprintf("a Commit of %d bytes in flight: the writes hold %d bytes, want %d", want, n, want)
				})

			cl, err := client.New("http://" + addr)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			commit := func(n int, b byte) error {
				_, err := cl.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, bytes.Repeat([]byte{b}, n))})
				return err
			}
			lsn := bus.LastLSN()
			err = commit(100<<10, 1)
			if !errors.Is(err, client.ErrServerBusy) {
				t.Fatalf("a Commit of 100 KiB beside one of %d bytes in flight, bound %d: %v, want client.ErrServerBusy", want, budget, err)
			}
			for _, s := range []string{c.flag, fmt.Sprint(budget), fmt.Sprint(want)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("refusal %q does not name %q", err.Error(), s)
				}
			}
			if got := bus.LastLSN(); got != lsn {
				t.Fatalf("the refused Commit was applied: last LSN %d, was %d", got, lsn)
			}
			// The same Commit without a length (chunked) is refused as it
			// is read, before it is decoded, and not applied either.
			d := mmsb.Write(id, 0, bytes.Repeat([]byte{1}, 100<<10))
			body, err := proto.Marshal(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{wire.DeltaToProto(&d)}})
			if err != nil {
				t.Fatal(err)
			}
			hr, err := http.NewRequest(http.MethodPost, "http://"+addr+"/mmsb.v1.BusService/Commit", io.MultiReader(bytes.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			hr.Header.Set("Content-Type", "application/proto")
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if hr.ContentLength != 0 || resp.StatusCode == http.StatusOK || resp.Header.Get(server.BusyKey) != c.flag ||
				!strings.Contains(string(answer), "resource_exhausted") {
				t.Fatalf("a chunked Commit of 100 KiB beside one of %d bytes in flight, bound %d: HTTP %d, %s %q, %s; want resource_exhausted, %s %q",
					want, budget, resp.StatusCode, server.BusyKey, resp.Header.Get(server.BusyKey), answer, server.BusyKey, c.flag)
			}
			if got := bus.LastLSN(); got != lsn {
				t.Fatalf("the refused chunked Commit was applied: last LSN %d, was %d", got, lsn)
			}
			// The same Commit gzipped (about 200 bytes sent) counts the
			// most it may inflate to until it is decoded, and is refused
			// alike.
			gz := mmsbv1connect.NewBusServiceClient(http.DefaultClient, "http://"+addr, connect.WithSendGzip())
			_, err = gz.Commit(ctx, connect.NewRequest(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{wire.DeltaToProto(&d)}}))
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != connect.CodeResourceExhausted || ce.Meta().Get(server.BusyKey) != c.flag {
				t.Fatalf("a gzipped Commit of 100 KiB beside one of %d bytes in flight, bound %d: %v; want resource_exhausted, %s %q",
					want, budget, err, server.BusyKey, c.flag)
			}
			if got := bus.LastLSN(); got != lsn {
				t.Fatalf("the refused gzipped Commit was applied: last LSN %d, was %d", got, lsn)
			}
			if err := commit(1<<10, 2); err != nil {
				t.Fatalf("a Commit of 1 KiB within the bound: %v", err)
			}
			_ = hc.Close()
			waitUntil(t, func() bool { n, cs := server.WriteBytesHeld(h); return n == 0 && cs == 0 },
				func() string {
					n, cs := server.WriteBytesHeld(h)
					return fmt.Sprintf("the held Commit's connection closed: the writes still hold %d bytes of %d clients", n, cs)
				})
			if err := commit(100<<10, 3); err != nil {
				t.Fatalf("a Commit of 100 KiB once the held one was given up: %v", err)
			}
			if err := commit(300<<10, 4); err != nil {
				t.Fatalf("a Commit of 300 KiB alone, past the bound of %d: %v", budget, err)
			}
			data, _, err := bus.ReadPage(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data[:300<<10], bytes.Repeat([]byte{4}, 300<<10)) {
				t.Fatal("the Commit of 300 KiB alone was not applied")
			}
			if n, cs := server.WriteBytesHeld(h); n != 0 || cs != 0 {
				t.Errorf("every write answered: the writes still hold %d bytes of %d clients", n, cs)
			}
		})
	}
}
