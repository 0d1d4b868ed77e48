package server_test

import (
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
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestStreamsOutliveAnswerTimeout: served as mmsb serve serves them (the
// service's Mux and the inspector mounted on one mux, behind
// NewHTTPServer), every stream outlives the answer timeout (here 0.8 s)
// by receiving a message twice that long after its first: the bus's
// Watch and QueryLog, the inspector's Changes and Events, over Connect
// and gRPC-Web on HTTP/1.1 and HTTP/2, and gRPC on HTTP/2. A stream cut
// at the timeout (its HTTP/2 stream reset, its HTTP/1.1 connection's
// writes failing) ends with an error here. (The inspector's QueryLog is
// exempt by the same path list as Changes and Events; it cannot be
// made to run long here.)
func TestStreamsOutliveAnswerTimeout(t *testing.T) {
	const timeout = 800 * time.Millisecond
	bus, err := mmsb.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ids, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 64}, {Size: 64}})
	if err != nil {
		t.Fatal(err)
	}
	// 800 operations: the bus's QueryLog sends them 256 a message, one
	// every 256 × 4 ms (the hook below), the last 2.2 s after the first.
	for i := range 800 {
		if _, err := bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], 0, []byte{byte(i)})}); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := server.New(server.Config{Bus: bus, ProgressInterval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	server.SetQueryLogHook(srv, func(context.Context) { time.Sleep(4 * time.Millisecond) })
	ins, err := inspector.New(inspector.Options{Bus: bus, AnswerTimeout: timeout, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ins.Close() })
	mux := srv.Mux(server.HTTPOptions{AnswerTimeout: timeout, Interceptors: []connect.Interceptor{ins.Interceptor()}})
	ins.Mount(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServerAnswerTimeout(mux, timeout)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	url := "http://" + ln.Addr().String()

	transport := func(h2 bool) *http.Client {
		var p http.Protocols
		if h2 {
			p.SetUnencryptedHTTP2(true)
		} else {
			p.SetHTTP1(true)
		}
		tr := &http.Transport{Protocols: &p}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr}
	}
	// Commits (Changes) and refused cycles (Events) while the streams run.
	bc := mmsbv1connect.NewBusServiceClient(transport(false), url)
	if _, err := bc.AddEdge(ctx, connect.NewRequest(&mmsbv1.AddEdgeRequest{Parent: uint64(ids[0]), Child: uint64(ids[1])})); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			_, _ = bus.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[1], 0, []byte("x"))})
			_, _ = bc.AddEdge(ctx, connect.NewRequest(&mmsbv1.AddEdgeRequest{Parent: uint64(ids[1]), Child: uint64(ids[0])}))
		}
	}()
	defer func() { close(stop); churn.Wait() }()

	// follow receives from a stream until a message comes 2 × timeout
	// after its first (then stops it), or it ends: it must not end with
	// an error first, nor end before.
	type receiver interface {
		Receive() bool
		Err() error
		Close() error
	}
	follow := func(name string, open func(context.Context) (receiver, error)) error {
		sctx, scancel := context.WithCancel(ctx)
		defer scancel()
		s, err := open(sctx)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer s.Close()
		var first time.Time
		n := 0
		for s.Receive() {
			n++
			if first.IsZero() {
				first = time.Now()
			} else if time.Since(first) >= 2*timeout {
				return nil
			}
		}
		return fmt.Errorf("%s: ended %v after its first message (%d message(s)): %w; want it to outlive the answer timeout (%v)", name, time.Since(first).Round(time.Millisecond), n, s.Err(), timeout)
	}
	type proto struct {
		name string
		h2   bool
		opts []connect.ClientOption
	}
	protos := []proto{
		{"connect/http1", false, nil}, {"connect/http2", true, nil},
		{"grpc-web/http1", false, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc-web/http2", true, []connect.ClientOption{connect.WithGRPCWeb()}},
		{"grpc/http2", true, []connect.ClientOption{connect.WithGRPC()}},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(protos))
	for _, p := range protos {
		hc := transport(p.h2)
		b := mmsbv1connect.NewBusServiceClient(hc, url, p.opts...)
		in := inspectorv1connect.NewInspectorServiceClient(hc, url, p.opts...)
		streams := map[string]func(context.Context) (receiver, error){
			"Watch": func(c context.Context) (receiver, error) {
				return b.Watch(c, connect.NewRequest(&mmsbv1.WatchRequest{FromLsn: uint64(bus.LastLSN()) + 1, ProgressMs: 50}))
			},
			"QueryLog": func(c context.Context) (receiver, error) {
				return b.QueryLog(c, connect.NewRequest(&mmsbv1.QueryLogRequest{FromLsn: 1, ToLsn: 800}))
			},
			"inspector Changes": func(c context.Context) (receiver, error) {
				return in.Changes(c, connect.NewRequest(&inspectorv1.ChangesRequest{}))
			},
			"inspector Events": func(c context.Context) (receiver, error) {
				return in.Events(c, connect.NewRequest(&inspectorv1.EventsRequest{}))
			},
		}
		for name, open := range streams {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := follow(p.name+" "+name, open); err != nil {
					errs <- err
				}
			}()
		}
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
