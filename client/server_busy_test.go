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

// TestWatchBusyRefusalsExactlyOnce: a watch whose stream drops twice,
// after different changes, with each reconnection refused twice at the
// server's request bound before one is admitted, delivers every change
// once, in order, over Connect and gRPC: the resumption after busy
// refusals starts after the last change delivered, wherever the stream
// was when it dropped, and the refusals of one outage do not use up the
// reconnections of the next (MaxReconnects 3: a drop and two refusals).
func TestWatchBusyRefusalsExactlyOnce(t *testing.T) {
	for _, grpc := range []bool{false, true} {
		var refuse, refused atomic.Int64
		f := newBusyFixture(t, 0, func(f *busyFixture, next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/Watch") || refuse.Load() == 0 {
					next.ServeHTTP(w, r)
					return
				}
				if refuse.Load() == 2 {
					f.hold(t) // the dropped stream's slot freed, the next attempts are refused
				}
				refused.Add(1)
				next.ServeHTTP(w, r)
				if refuse.Add(-1) == 0 {
					f.unhold()
				}
			})
		})
		f.commit(t, 'a') // LSN 2
		opts := []client.Option{client.WithRetries(0, 5*time.Millisecond)}
		if grpc {
			opts = append(opts, client.WithGRPC())
		}
		c, err := client.New(f.url, opts...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a failure bound
		errDone := errors.New("all delivered")
		var got []mmsb.LSN
		dropped := map[mmsb.LSN]bool{}
		err = c.Watch(ctx, client.WatchOptions{MaxReconnects: 3}, func(ev client.WatchEvent) error {
			for _, ch := range ev.Changes {
				got = append(got, ch.LSN)
				if ch.LSN == 4 {
					return errDone
				}
			}
			if n := len(got); n > 0 && got[n-1] >= 2 && !dropped[got[n-1]] {
				// The stream drops after LSN 2, then after LSN 3; the
				// next change is committed meanwhile.
				dropped[got[n-1]] = true
				refuse.Store(2)
				f.hs.CloseClientConnections()
				f.commit(t, 'b')
			}
			return nil
		})
		cancel()
		_ = c.Close()
		if !errors.Is(err, errDone) {
			t.Fatalf("grpc %v: Watch through two outages of 2 busy refusals each: %v (delivered %v, %d refused); want LSN 4 delivered", grpc, err, got, refused.Load())
		}
		if want := []mmsb.LSN{1, 2, 3, 4}; !slices.Equal(got, want) {
			t.Fatalf("grpc %v: delivered LSNs %v, want %v (each once, none missed)", grpc, got, want)
		}
		if n := refused.Load(); n != 4 {
			t.Fatalf("grpc %v: %d watch attempts were refused, want 4", grpc, n)
		}
	}
}

// TestWatchResourceExhaustedRetriedOnlyWhenBusy: a server that ends
// every watch at once with resource_exhausted is tried once when the
// refusal carries no Mmsb-Busy (a bound on size: retrying cannot help),
// and MaxReconnects+1 times when it does, whoever sends it (a hostile
// server can make the client retry, not retry without end), the error
// then wrapping ErrServerBusy.
func TestWatchResourceExhaustedRetriedOnlyWhenBusy(t *testing.T) {
	for _, busy := range []bool{false, true} {
		var attempts atomic.Int64
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			attempts.Add(1)
			end := []byte(`{"error":{"code":"resource_exhausted","message":"no"}}`)
			frame := []byte{0x02, 0, 0, 0, byte(len(end))}
			w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
			if busy {
				w.Header().Set(server.BusyKey, "--max-watchers")
			}
			_, _ = w.Write(append(frame, end...))
		}))
		c, err := client.New(hs.URL, client.WithRetries(0, time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // a failure bound
		err = c.Watch(ctx, client.WatchOptions{MaxReconnects: 3}, func(client.WatchEvent) error { return errors.New("delivered") })
		cancel()
		_ = c.Close()
		hs.Close()
		want := int64(1)
		if busy {
			want = 4
		}
		if n := attempts.Load(); n != want || connect.CodeOf(err) != connect.CodeResourceExhausted || errors.Is(err, client.ErrServerBusy) != busy {
			t.Fatalf("Mmsb-Busy %v: Watch against a server refusing every watch: %v (code %v, wraps ErrServerBusy %v) after %d attempts; want resource_exhausted, wrapping it %v, after %d",
				busy, err, connect.CodeOf(err), errors.Is(err, client.ErrServerBusy), n, busy, want)
		}
	}
}
