package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
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
			env := append([]byte{0, 0, 0, 0, byte(len(body))}, body...)
			addr := strings.TrimPrefix(f.http.URL, "http://")
			var stalled io.Closer
			if proto == "HTTP/1.1" {
				conn, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				stalled = conn
				if _, err := fmt.Fprintf(conn, "POST /mmsb.v1.BusService/Watch HTTP/1.1\r\nHost: %s\r\nContent-Type: application/connect+json\r\nContent-Length: %d\r\n\r\n%s", addr, len(env), env); err != nil {
					t.Fatal(err)
				}
			} else {
				var p http.Protocols
				p.SetUnencryptedHTTP2(true)
				hc := &http.Client{Transport: &http.Transport{Protocols: &p}}
				resp, err := hc.Post(f.http.URL+"/mmsb.v1.BusService/Watch", "application/connect+json", bytes.NewReader(env))
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
					t.Fatalf("watch over HTTP/2: %s %s", resp.Proto, resp.Status)
				}
				stalled = resp.Body // never read
			}
			defer stalled.Close()
			// 64 MiB of changes: more than the socket buffers and an
			// HTTP/2 stream's window hold, so the watch blocks writing.
			data := make([]byte, 1<<20)
			for i := range 64 {
				for j := range data {
					data[j] = byte(i + j)
				}
				if _, err := f.c.Commit(ctx, []mmsb.Delta{mmsb.Write(id, 0, data)}); err != nil {
					t.Fatal(err)
				}
			}
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
