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
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestSlowUnaryAnswerNotCut: the answer timeout runs from an answer's
// first byte, not from its request: a unary call slow to produce its
// answer (here a Read as of an LSN whose replay takes twice the answer
// timeout of 0.5 s) gets its whole answer, over Connect and gRPC-Web on
// HTTP/1.1 and HTTP/2, and gRPC on HTTP/2.
func TestSlowUnaryAnswerNotCut(t *testing.T) {
	const timeout = 500 * time.Millisecond
	bus, err := mmsb.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("slow"), 16<<10)
	info, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, want)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, MaxAsOfReads: 8, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	server.SetAsOfHooks(srv, func() { time.Sleep(2 * timeout) }, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServerAnswerTimeout(srv.Mux(server.HTTPOptions{AnswerTimeout: timeout}), timeout)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })

	protos := []struct {
		name string
		h2   bool
		opts []connect.ClientOption
	}{
		{"connect/http1", false, nil}, {"connect/http2", true, nil},
		{"grpc-web/http1", false, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc-web/http2", true, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc/http2", true, []connect.ClientOption{connect.WithGRPC()}},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(protos))
	for _, p := range protos {
		var pr http.Protocols
		if p.h2 {
			pr.SetUnencryptedHTTP2(true)
		} else {
			pr.SetHTTP1(true)
		}
		tr := &http.Transport{Protocols: &pr}
		t.Cleanup(tr.CloseIdleConnections)
		c := mmsbv1connect.NewBusServiceClient(&http.Client{Transport: tr}, "http://"+ln.Addr().String(), p.opts...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			resp, err := c.Read(ctx, connect.NewRequest(&mmsbv1.ReadRequest{AsOfLsn: uint64(info.LastLSN),
				Items: []*mmsbv1.ReadItem{{Page: uint64(id), Length: uint32(len(want))}}}))
			switch {
			case err != nil:
				errs <- fmt.Errorf("%s: Read answered after %v: %w; want its answer (the timeout runs from its first byte)", p.name, time.Since(start).Round(time.Millisecond), err)
			case len(resp.Msg.GetPages()) != 1 || !bytes.Equal(resp.Msg.GetPages()[0].GetData(), want):
				errs <- fmt.Errorf("%s: Read answered %d page(s), not the %d bytes written", p.name, len(resp.Msg.GetPages()), len(want))
			}
		}()
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		t.Fatal(err)
	}
}
