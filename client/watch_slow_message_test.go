package client_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb/client"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// slowWatchServer answers Watch in the Connect streaming protocol, by
// hand so that it can send one message slowly: the opening progress
// message, then one change of a 1 MiB delta in 16 KiB pieces, one every
// 20 ms (about 1.3 s in all), announcing a progress interval of 200 ms.
// With stallAfter > 0 it stops after that many pieces, leaving the
// connection open. It counts the watches opened.
func slowWatchServer(t *testing.T, stallAfter int, opened *atomic.Int32) *httptest.Server {
	t.Helper()
	envelope := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		h := make([]byte, 5, 5+len(b)) // flags 0, then the length
		binary.BigEndian.PutUint32(h[1:], uint32(len(b)))
		return append(h, b...)
	}
	opening := envelope(&mmsbv1.WatchResponse{})
	change := envelope(&mmsbv1.WatchResponse{ProgressLsn: 1, Changes: []*mmsbv1.Change{{Lsn: 1, Page: 1, Kind: "delta",
		Delta: &mmsbv1.Delta{Page: 1, Runs: []*mmsbv1.Run{{Data: bytes.Repeat([]byte{'d'}, 1<<20)}}}}}})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		opened.Add(1)
		w.Header().Set("Content-Type", "application/connect+proto")
		w.Header().Set("Mmsb-Progress-Ms", "200")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(opening)
		w.(http.Flusher).Flush()
		for i, m := 0, change; len(m) > 0; i++ {
			if stallAfter > 0 && i == stallAfter {
				break
			}
			n := min(len(m), 16<<10)
			if _, err := w.Write(m[:n]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			m = m[n:]
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
		<-r.Context().Done() // the stream stays open, silent
	}))
	t.Cleanup(hs.Close)
	return hs
}

// TestWatchSlowLargeMessageNotSilent: the silence watchdog
// (WatchOptions.SilenceTimeout) takes a stream for dead when no bytes
// come, not when one message takes longer than the bound to arrive. A
// large change arriving steadily over a slow link (here 1 MiB in 16 KiB
// pieces 20 ms apart, about 1.3 s, against a bound of 600 ms) was cut at
// the bound, and every reconnection was cut in the same message, until
// Watch failed with ErrWatchSilent on a healthy connection (with the
// default bound of 10 s: a delta of tens of MiB at a few MB/s). It is
// delivered now, on the first stream. A stream that stops mid-message is
// still taken for dead (ErrWatchSilent once reconnections run out).
func TestWatchSlowLargeMessageNotSilent(t *testing.T) {
	t.Run("steady", func(t *testing.T) {
		var opened atomic.Int32
		hs := slowWatchServer(t, 0, &opened)
		c, err := client.New(hs.URL, client.WithRetries(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() //nolint:errcheck // test client
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		delivered := 0
		err = c.Watch(ctx, client.WatchOptions{SilenceTimeout: 600 * time.Millisecond, MaxReconnects: 2}, func(ev client.WatchEvent) error {
			for _, ch := range ev.Changes {
				if ch.Delta == nil || len(ch.Delta.Runs) != 1 || len(ch.Delta.Runs[0].Data) != 1<<20 {
					t.Errorf("change at LSN %d: delta %v, want one run of 1 MiB", ch.LSN, ch.Delta != nil)
				}
				delivered++
				cancel()
			}
			return nil
		})
		if delivered != 1 || opened.Load() != 1 {
			t.Fatalf("Watch = %v after %d watch(es) opened, %d change(s) delivered; want the change delivered on the first stream (a message arriving steadily is not silence)",
				err, opened.Load(), delivered)
		}
	})
	t.Run("stalls mid-message", func(t *testing.T) {
		var opened atomic.Int32
		hs := slowWatchServer(t, 8, &opened)
		c, err := client.New(hs.URL, client.WithRetries(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() //nolint:errcheck // test client
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = c.Watch(ctx, client.WatchOptions{SilenceTimeout: 600 * time.Millisecond, MaxReconnects: 1}, func(client.WatchEvent) error { return nil })
		if !errors.Is(err, client.ErrWatchSilent) || ctx.Err() != nil {
			t.Fatalf("Watch of a stream stalled mid-message = %v (context: %v), want client.ErrWatchSilent before the context ends", err, ctx.Err())
		}
	})
}
