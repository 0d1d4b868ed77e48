package inspector_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// TestCloseCutsStalledStream: an inspector stream whose client stopped
// reading (a QueryLog of 10,000 entries of about 1 KB, here) is blocked in
// a write, where it sees neither Close nor its context end; Close gives
// it a write deadline (server.StreamEndGrace away), so that the HTTP
// server's shutdown returns long before its own deadline (an hour here),
// as `mmsb serve` closes the inspector at its shutdown. Until 2026-12-06
// such a client held the shutdown to --shutdown-timeout.
func TestCloseCutsStalledStream(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/2 cleartext"} {
		t.Run(proto, func(t *testing.T) {
			ctx := context.Background()
			bus, err := mmsb.Open(t.TempDir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = bus.Close() })
			id, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 1 << 10})
			if err != nil {
				t.Fatal(err)
			}
			batch := make([]mmsb.Delta, 10_000)
			for i := range batch {
				batch[i] = mmsb.Write(id, 0, bytes.Repeat([]byte{byte(i)}, 512))
				batch[i].Source = strings.Repeat("s", 1<<10)
				batch[i].Intent = bytes.Repeat([]byte("i"), 200)
			}
			if _, err := bus.Commit(ctx, batch); err != nil {
				t.Fatal(err)
			}
			ins, mux := mountInspector(t, inspector.Options{Bus: bus})
			hs := httptest.NewUnstartedServer(mux)
			var p http.Protocols
			p.SetHTTP1(true)
			p.SetUnencryptedHTTP2(true)
			hs.Config.Protocols = &p
			hs.Start()
			t.Cleanup(hs.Close)

			stalled := testutil.StalledStream(t, hs.URL, "/mmsb.inspector.v1.InspectorService/QueryLog", []byte(`{"limit":10000}`), proto, true)
			defer stalled.Close()
			if err := ins.Close(); err != nil {
				t.Fatal(err)
			}
			sctx, cancel := context.WithTimeout(ctx, time.Hour)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- hs.Config.Shutdown(sctx) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second): // a failure bound, not a timing assertion
				hs.CloseClientConnections()
				t.Fatal("the HTTP server's shutdown still waits for the inspector stream whose client stopped reading")
			}
		})
	}
}
