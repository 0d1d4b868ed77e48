package server_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// TestWriteBytesAnnouncedIdleHoldsNothing: a write request of known
// length counts against the bounds on write bytes only the bytes of its
// body that arrived, not the length it announced. Four Commits, each
// announcing the largest message (--max-request-bytes) and sending one
// byte, hold 4 bytes, and another client's Commit fits beside them
// under a bound of four such messages (all from one address, as behind
// a proxy, the bound per client as large); counted as announced, they held the whole bound for as long
// as their bodies may take to arrive (server.BodyReadTimeout, 2
// minutes), and every other write was refused as busy meanwhile. A body
// that does arrive counts as it arrives, so that the bound still bounds
// the memory the bodies take.
func TestWriteBytesAnnouncedIdleHoldsNothing(t *testing.T) {
	const maxBytes = 64 << 10
	const bound = 4 * (maxBytes + 5)
	ctx := context.Background()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	toks := []server.Token{{Role: server.RoleWrite, Value: writeTok}}
	h, addr := writeBytesServer(t, bus, server.HTTPOptions{Auth: server.NewAuth(toks), MaxRequestBytes: maxBytes}, bound, bound)

	held := func(want int64, what string) {
		t.Helper()
		waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == want },
			func() string {
				n, _ := server.WriteBytesHeld(h)
				return fmt.Sprintf("%s: the writes hold %d bytes, want %d (bound %d)", what, n, want, bound)
			})
	}
	var stalled []interface{ Write([]byte) (int, error) }
	for range 4 {
		c := announce(t, addr, writeTok, maxBytes)
		if _, err := c.Write([]byte{0x0a}); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, c)
	}
	held(4, "4 Commits announcing --max-request-bytes each, 1 byte of each sent")

	cl := mmsbv1connect.NewBusServiceClient(http.DefaultClient, "http://"+addr)
	req := connect.NewRequest(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{{Page: uint64(id), Runs: []*mmsbv1.Run{{Data: bytes.Repeat([]byte{1}, 32<<10)}}}}})
	req.Header().Set("Authorization", "Bearer "+writeTok)
	if _, err := cl.Commit(ctx, req); err != nil {
		t.Fatalf("a Commit of 32 KiB beside 4 announced and stalled (bound %d): %v", bound, err)
	}

	// What arrives counts: 60 KiB more of one body.
	if _, err := stalled[0].Write(make([]byte, 60<<10)); err != nil {
		t.Fatal(err)
	}
	held(4+60<<10, "60 KiB more of one stalled Commit's body sent")
}

// TestWriteBytesGRPCCompressedCountedWhole: a gRPC write whose message is
// compressed (Grpc-Encoding: gzip, its envelope flagged compressed), over
// HTTP/2 without a length, counts the bytes that arrived while its
// message arrives, and the most it may inflate to (--max-request-bytes
// and 5) once the message is whole, before it is inflated: beside a
// plain Commit holding 80 KiB under a bound of 200 KiB it is refused
// (grpc-status 8, resource_exhausted) and not applied, and alone it is
// applied, nothing held afterwards.
func TestWriteBytesGRPCCompressedCountedWhole(t *testing.T) {
	const maxBytes, bound = 128 << 10, 200 << 10
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
	h, addr := writeBytesServer(t, bus, server.HTTPOptions{MaxRequestBytes: maxBytes}, bound, bound)
	heldIs := func(want int64, what string) {
		t.Helper()
		waitUntil(t, func() bool { n, _ := server.WriteBytesHeld(h); return n == want },
			func() string {
				n, _ := server.WriteBytesHeld(h)
				return fmt.Sprintf("%s: the writes hold %d bytes, want %d", what, n, want)
			})
	}
	d := mmsb.Write(id, 0, bytes.Repeat([]byte{5}, 1<<10))
	msg, err := proto.Marshal(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{wire.DeltaToProto(&d)}})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(msg)
	_ = zw.Close()
	env := binary.BigEndian.AppendUint32([]byte{1}, uint32(gz.Len()))
	env = append(env, gz.Bytes()...)

	h2p := new(http.Protocols)
	h2p.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: h2p}}
	t.Cleanup(hc.CloseIdleConnections)
	type answer struct {
		status string
		err    error
	}
	send := func(first int) (*io.PipeWriter, chan answer) {
		pr, pw := io.Pipe()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+mmsbv1connect.BusServiceCommitProcedure, pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc")
		req.Header.Set("Grpc-Encoding", "gzip")
		req.Header.Set("Te", "trailers")
		out := make(chan answer, 1)
		go func() {
			resp, err := hc.Do(req)
			if err != nil {
				out <- answer{err: err}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			status := resp.Trailer.Get("Grpc-Status")
			if status == "" {
				status = resp.Header.Get("Grpc-Status")
			}
			out <- answer{status: status}
		}()
		if _, err := pw.Write(env[:first]); err != nil {
			t.Fatal(err)
		}
		return pw, out
	}

	// The envelope's prefix and 10 bytes of the message: they count.
	pw, out := send(15)
	heldIs(15, "a gzipped gRPC Commit, 15 bytes of its envelope sent")
	plain := announceSent(t, addr, "", 100<<10, 80<<10)
	heldIs(15+80<<10, "a plain Commit holding 80 KiB beside it")
	lsn := bus.LastLSN()
	if _, err := pw.Write(env[15:]); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if a := recv(t, out, "answer to the gzipped gRPC Commit"); a.err != nil || a.status != "8" {
		t.Fatalf("a gzipped gRPC Commit whole beside writes holding %d bytes (bound %d, --max-request-bytes %d): grpc-status %q, %v; want 8 (resource_exhausted)",
			15+80<<10, bound, maxBytes, a.status, a.err)
	}
	if got := bus.LastLSN(); got != lsn {
		t.Fatalf("the refused gzipped gRPC Commit was applied: last LSN %d, was %d", got, lsn)
	}
	_ = plain.Close()
	heldIs(0, "the plain Commit closed, the gRPC one refused")

	pw, out = send(len(env))
	_ = pw.Close()
	if a := recv(t, out, "answer to the gzipped gRPC Commit alone"); a.err != nil || a.status != "0" {
		t.Fatalf("a gzipped gRPC Commit alone: grpc-status %q, %v; want 0", a.status, a.err)
	}
	if got := bus.LastLSN(); got != lsn+1 {
		t.Fatalf("the gzipped gRPC Commit answered: last LSN %d, want %d", got, lsn+1)
	}
	heldIs(0, "the gzipped gRPC Commit answered")
}
