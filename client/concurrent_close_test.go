package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestConcurrentUseThenClose: one client used from several goroutines at
// once (commits, reads, log queries, watches) while another closes it:
// nothing panics or hangs, every call before Close succeeds, and every
// call Close ends, or made after it, fails with an error wrapping
// mmsb.ErrClosed.
func TestConcurrentUseThenClose(t *testing.T) {
	ctx := context.Background()
	_, c, _ := waveBus(t) // page 1 holds one byte
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	started := make(chan struct{}, 16)
	loop := func(name string, call func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				if i == 3 {
					started <- struct{}{}
				}
				if err := call(); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					return
				}
			}
		}()
	}
	for g := range 3 {
		loop(fmt.Sprint("commit ", g), func() error {
			_, err := c.Commit(ctx, []mmsb.Delta{mmsb.Write(1, 0, []byte{byte(g)})})
			return err
		})
		loop(fmt.Sprint("read ", g), func() error { _, _, _, err := c.ReadPage(ctx, 1); return err })
		loop(fmt.Sprint("query ", g), func() error {
			return c.QueryLog(ctx, mmsb.LogQuery{FromLSN: 1, ToLSN: 5}, func(*mmsb.LoggedOp) bool { return true })
		})
	}
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			err := c.Watch(ctx, client.WatchOptions{Pages: []mmsb.PageID{1}}, func(ev client.WatchEvent) error {
				if n++; n == 3 {
					started <- struct{}{}
				}
				return nil
			})
			errs <- fmt.Errorf("watch %d: %w", g, err)
		}()
	}
	for range 11 {
		select {
		case <-started:
		case <-time.After(30 * time.Second):
			t.Fatal("the calls did not get going within 30 s")
		}
	}
	_ = c.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("calls still running 30 s after Close")
	}
	close(errs)
	for err := range errs {
		if !errors.Is(err, mmsb.ErrClosed) {
			t.Errorf("want an error wrapping mmsb.ErrClosed, got %v", err)
		}
	}
}
