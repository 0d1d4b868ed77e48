package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// mmsbServerTarget is MMSB over its network server: the same bus as
// mmsbTarget behind `mmsb serve`'s handler on a loopback port, driven by
// the Go client (Connect protocol, binary protobuf, HTTP/1.1), one Commit
// call per batch. With clients > 1 it holds that many clients (each its
// own connection) and its Commit is safe for concurrent use; with
// recordOrder it remembers each batch's first LSN (tests rebuild the
// order the server applied them in).
type mmsbServerTarget struct {
	sync    bool
	clients int

	bus   *mmsb.Bus
	srv   *server.Server
	hs    *http.Server
	serve chan error
	pool  chan *serverConn

	recordOrder bool
	orderMu     sync.Mutex
	order       []committed
}

// serverConn is one client with its delta buffer.
type serverConn struct {
	c  *client.Client
	ds []mmsb.Delta
}

// committed is a batch (its first write) and the LSN the server gave it.
type committed struct {
	first *Write
	lsn   mmsb.LSN
}

func (t *mmsbServerTarget) Setup(ctx context.Context, dir string, w Workload) error {
	mode := mmsb.SyncNone
	if t.sync {
		mode = mmsb.SyncGroup
	}
	bus, err := mmsb.Open(dir, &mmsb.Options{Sync: mode})
	if err != nil {
		return err
	}
	t.bus = bus
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if t.srv, err = server.New(server.Config{Bus: bus, Logger: quiet}); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	t.hs = server.NewHTTPServer(t.srv.Mux(server.HTTPOptions{}), 0, quiet)
	t.serve = make(chan error, 1)
	go func() { t.serve <- t.hs.Serve(ln) }()
	n := max(t.clients, 1)
	t.pool = make(chan *serverConn, n)
	for range n {
		c, err := client.New("http://" + ln.Addr().String())
		if err != nil {
			return err
		}
		t.pool <- &serverConn{c: c}
	}
	sc := <-t.pool
	defer func() { t.pool <- sc }()
	const chunk = 4096
	for first := 0; first < w.Pages; first += chunk {
		specs := make([]mmsb.PageSpec, min(chunk, w.Pages-first))
		for i := range specs {
			specs[i] = mmsb.PageSpec{ID: mmsb.PageID(first + i + 1), Size: w.PageSize}
		}
		if _, err := sc.c.CreatePages(ctx, specs); err != nil {
			return fmt.Errorf("mmsb over the server: create pages: %w", err)
		}
	}
	return nil
}

func (t *mmsbServerTarget) Commit(ctx context.Context, batch []Write) error {
	sc := <-t.pool
	defer func() { t.pool <- sc }()
	sc.ds = sc.ds[:0]
	for i := range batch {
		wr := &batch[i]
		sc.ds = append(sc.ds, mmsb.Write(mmsb.PageID(wr.Page+1), wr.Off, wr.Data[:]))
	}
	info, err := sc.c.Commit(ctx, sc.ds)
	if err == nil && t.recordOrder && len(batch) > 0 {
		t.orderMu.Lock()
		t.order = append(t.order, committed{&batch[0], info.FirstLSN})
		t.orderMu.Unlock()
	}
	return err
}

// commitOrder returns batches in the order the server applied them
// (recordOrder must have been set).
func (t *mmsbServerTarget) commitOrder(batches [][]Write) ([][]Write, error) {
	t.orderMu.Lock()
	defer t.orderMu.Unlock()
	byFirst := make(map[*Write][]Write, len(batches))
	for _, b := range batches {
		byFirst[&b[0]] = b
	}
	order := slices.Clone(t.order)
	slices.SortFunc(order, func(a, b committed) int { return cmp.Compare(a.lsn, b.lsn) })
	out := make([][]Write, 0, len(order))
	for _, o := range order {
		b, ok := byFirst[o.first]
		if !ok {
			return nil, errors.New("a recorded commit is not one of the batches")
		}
		out = append(out, b)
	}
	if len(out) != len(batches) {
		return nil, fmt.Errorf("%d commits recorded for %d batches", len(out), len(batches))
	}
	return out, nil
}

func (t *mmsbServerTarget) ReadPage(ctx context.Context, i uint32) ([]byte, error) {
	sc := <-t.pool
	defer func() { t.pool <- sc }()
	b, _, _, err := sc.c.ReadPage(ctx, mmsb.PageID(i+1))
	return b, err
}

func (t *mmsbServerTarget) Close() error {
	var errs []error
	if t.hs != nil {
		errs = append(errs, t.hs.Close())
		if err := <-t.serve; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if t.srv != nil {
		errs = append(errs, t.srv.Shutdown(context.Background()))
	}
	if t.bus != nil {
		errs = append(errs, t.bus.Close())
	}
	return errors.Join(errs...)
}
