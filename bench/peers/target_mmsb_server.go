package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// mmsbServerTarget is MMSB over its network server: the same bus as
// mmsbTarget behind `mmsb serve`'s handler on a loopback port, driven by
// the Go client (Connect protocol, binary protobuf, HTTP/1.1), one Commit
// call per batch.
type mmsbServerTarget struct {
	sync  bool
	bus   *mmsb.Bus
	srv   *server.Server
	hs    *http.Server
	serve chan error
	c     *client.Client
	ds    []mmsb.Delta
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
	if t.c, err = client.New("http://" + ln.Addr().String()); err != nil {
		return err
	}
	const chunk = 4096
	for first := 0; first < w.Pages; first += chunk {
		specs := make([]mmsb.PageSpec, min(chunk, w.Pages-first))
		for i := range specs {
			specs[i] = mmsb.PageSpec{ID: mmsb.PageID(first + i + 1), Size: w.PageSize}
		}
		if _, err := t.c.CreatePages(ctx, specs); err != nil {
			return fmt.Errorf("mmsb over the server: create pages: %w", err)
		}
	}
	return nil
}

func (t *mmsbServerTarget) Commit(ctx context.Context, batch []Write) error {
	t.ds = t.ds[:0]
	for i := range batch {
		wr := &batch[i]
		t.ds = append(t.ds, mmsb.Write(mmsb.PageID(wr.Page+1), wr.Off, wr.Data[:]))
	}
	_, err := t.c.Commit(ctx, t.ds)
	return err
}

func (t *mmsbServerTarget) ReadPage(ctx context.Context, i uint32) ([]byte, error) {
	b, _, _, err := t.c.ReadPage(ctx, mmsb.PageID(i+1))
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
