package client_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// busyFixture is a server of an in-memory bus behind server.LimitRequests
// with --max-requests 1 (and whatever wraps it, outer), where a request
// to /hold takes that one slot until released.
type busyFixture struct {
	url  string
	hs   *httptest.Server
	bus  *mmsb.Bus
	page mmsb.PageID

	limited http.Handler
	entered chan struct{}
	mu      sync.Mutex
	release chan struct{} // of the hold in place, if any
}

func newBusyFixture(t *testing.T, maxRequestBytes int, outer func(f *busyFixture, next http.Handler) http.Handler) *busyFixture {
	t.Helper()
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := bus.CreatePages(context.Background(), []mmsb.PageSpec{{Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	f := &busyFixture{bus: bus, page: ids[0], entered: make(chan struct{}, 1)}
	mux := srv.Mux(server.HTTPOptions{MaxRequestBytes: maxRequestBytes})
	f.limited = server.LimitRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			f.mu.Lock()
			rel := f.release
			f.mu.Unlock()
			f.entered <- struct{}{}
			<-rel
			return
		}
		mux.ServeHTTP(w, r)
	}), 1, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h := f.limited
	if outer != nil {
		h = outer(f, h)
	}
	hs := httptest.NewUnstartedServer(h)
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &protos
	hs.Start()
	f.url, f.hs = hs.URL, hs
	t.Cleanup(func() {
		f.unhold()
		hs.CloseClientConnections()
		hs.Close()
		_ = srv.Shutdown(context.Background())
		_ = bus.Close()
	})
	return f
}

// hold takes the server's one request slot, retrying while another
// request has it, and returns once it holds it.
func (f *busyFixture) hold(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	f.release = make(chan struct{})
	f.mu.Unlock()
	deadline := time.Now().Add(30 * time.Second) // a failure bound, not a timing assertion
	for {
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.limited.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/hold", nil))
		}()
		select {
		case <-f.entered:
			return
		case <-done: // refused: the slot is still taken
		}
		if time.Now().After(deadline) {
			t.Fatal("the request slot was never free to hold")
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *busyFixture) unhold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.release != nil {
		close(f.release)
		f.release = nil
	}
}

func (f *busyFixture) commit(t *testing.T, b byte) {
	t.Helper()
	if _, err := f.bus.Commit(context.Background(), []mmsb.Delta{mmsb.Write(f.page, 0, []byte{b})}); err != nil {
		t.Fatal(err)
	}
}

// TestServerBusySentinel: a call refused at the server's request bound
// (--max-requests 1, held by another request) fails with an error that
// wraps client.ErrServerBusy and keeps code ResourceExhausted and the
// bound's flag, over Connect and gRPC, for unary calls and for a Watch
// whose reconnections ran out; a ResourceExhausted error of a request
// over --max-request-bytes does not wrap it (retrying cannot help).
// Until 2026-12-06 callers could tell the two apart only by the text.
func TestServerBusySentinel(t *testing.T) {
	f := newBusyFixture(t, 1024, nil)
	ctx := context.Background()
	for _, grpc := range []bool{false, true} {
		opts := []client.Option{client.WithRetries(0, 0)}
		if grpc {
			opts = append(opts, client.WithGRPC())
		}
		c, err := client.New(f.url, opts...)
		if err != nil {
			t.Fatal(err)
		}
		// Not busy: too large a request.
		_, err = c.Commit(ctx, []mmsb.Delta{mmsb.Write(f.page, 0, make([]byte, 4096))})
		if connect.CodeOf(err) != connect.CodeResourceExhausted || errors.Is(err, client.ErrServerBusy) {
			t.Fatalf("grpc %v: a request over the size bound: %v (code %v); want resource_exhausted not wrapping ErrServerBusy", grpc, err, connect.CodeOf(err))
		}
		f.hold(t)
		_, err = c.Stats(ctx)
		if !errors.Is(err, client.ErrServerBusy) || connect.CodeOf(err) != connect.CodeResourceExhausted || !strings.Contains(err.Error(), "--max-requests 1") {
			t.Fatalf("grpc %v: Stats with the server's one request slot taken: %v (code %v); want resource_exhausted wrapping ErrServerBusy, naming --max-requests 1", grpc, err, connect.CodeOf(err))
		}
		err = c.Watch(ctx, client.WatchOptions{MaxReconnects: 1}, func(client.WatchEvent) error { return errors.New("delivered") })
		if !errors.Is(err, client.ErrServerBusy) || connect.CodeOf(err) != connect.CodeResourceExhausted {
			t.Fatalf("grpc %v: Watch with the server's one request slot taken: %v (code %v); want resource_exhausted wrapping ErrServerBusy", grpc, err, connect.CodeOf(err))
		}
		f.unhold()
		_ = c.Close()
	}
}

// TestWatchRetriesBusyServer: a watch whose stream drops and whose
// reconnections are then refused at the server's request bound
// (--max-requests 1, held by another request) retries with backoff, and
// once the bound frees resumes after the last change delivered: every
// change once, in order, none missed. Until 2026-12-06 the first busy
// refusal ended Watch with resource_exhausted.
func TestWatchRetriesBusyServer(t *testing.T) {
	var attempts, refusedWhileHeld atomic.Int64
	const refusals = 3
	f := newBusyFixture(t, 0, func(f *busyFixture, next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "/Watch") {
				next.ServeHTTP(w, r)
				return
			}
			switch n := attempts.Add(1); {
			case n == 1: // the first stream
			case n <= 1+refusals: // its reconnections, while another request holds the slot
				if n == 2 {
					f.hold(t)
				}
				refusedWhileHeld.Add(1)
				next.ServeHTTP(w, r)
				if n == 1+refusals {
					f.unhold()
				}
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	f.commit(t, 'a') // LSN 2 (the page's creation is LSN 1)
	c, err := client.New(f.url, client.WithRetries(0, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a failure bound
	defer cancel()
	errDone := errors.New("all delivered")
	var got []mmsb.LSN
	var dropped atomic.Bool
	err = c.Watch(ctx, client.WatchOptions{MaxReconnects: 2 * refusals}, func(ev client.WatchEvent) error {
		for _, ch := range ev.Changes {
			got = append(got, ch.LSN)
		}
		if slices.Contains(got, 2) && !dropped.Swap(true) {
			// The stream drops, then LSN 3 is committed: only a
			// reconnection can bring it.
			f.hs.CloseClientConnections()
			f.commit(t, 'b')
			return nil
		}
		if slices.Contains(got, 3) {
			return errDone
		}
		return nil
	})
	if !errors.Is(err, errDone) {
		t.Fatalf("Watch through %d busy refusals: %v (delivered %v, %d attempts); want it to retry and deliver LSN 3", refusals, err, got, attempts.Load())
	}
	if want := []mmsb.LSN{1, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("delivered LSNs %v, want %v (each once, none missed)", got, want)
	}
	if n := refusedWhileHeld.Load(); n != refusals {
		t.Fatalf("%d watch attempts came while the slot was held, want %d", n, refusals)
	}
}
