package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestShutdownCutsStalledWatch: a watch whose client stopped reading is
// blocked in a write, where it does not see the hub stop; Shutdown cuts it
// (a write deadline a second on, which resets the stream or closes its
// HTTP/1.1 connection), so that the HTTP server's shutdown returns instead
// of waiting for the client until --shutdown-timeout. Until 2026-12-06
// `mmsb serve --shutdown-timeout 10m` with such a client waited the ten
// minutes. The control (the watch's client reading) is
// TestShutdownClosesWatches: a reading client still gets the resumable
// unavailable end.
func TestShutdownCutsStalledWatch(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2 cleartext"} {
		t.Run(proto, func(t *testing.T) {
			f := newFixture(t, fixOpts{})
			ctx := context.Background()
			id, err := f.c.CreatePage(ctx, mmsb.PageSpec{Size: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(`{"fromLsn":"1","pages":["` + fmt.Sprint(uint64(id)) + `"]}`)
			stalled := testutil.StalledStream(t, f.http.URL, "/mmsb.v1.BusService/Watch", body, proto, false)
			defer stalled.Close()
			commitMiBs(t, f, id, 64) // 64 MiB of changes: more than the socket buffers and an HTTP/2 stream's window hold, so the watch blocks writing
			if err := f.srv.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- f.http.Config.Shutdown(ctx) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second): // a failure bound, not a timing assertion
				f.http.CloseClientConnections()
				t.Fatal("the HTTP server's shutdown still waits for the watch whose client stopped reading")
			}
		})
	}
}

// commitMiBs commits n writes of 1 MiB (each byte different from the
// last write's) to page id, a page of 1 MiB, through f's client.
func commitMiBs(t *testing.T, f *fixture, id mmsb.PageID, n int) {
	t.Helper()
	data := make([]byte, 1<<20)
	for i := range n {
		for j := range data {
			data[j] = byte(i + j)
		}
		if _, err := f.c.Commit(context.Background(), []mmsb.Delta{mmsb.Write(id, 0, data)}); err != nil {
			t.Fatal(err)
		}
	}
}
