package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// BenchmarkReadThroughLimitRequests: one unary Read (Connect, JSON) of a
// 64-byte page, served in process through LimitRequests and the server's
// mux, as mmsb serve mounts them; allocs/op counts the server's side
// (the request bounds, the answer bytes' hold, the handler, the codec).
func BenchmarkReadThroughLimitRequests(b *testing.B) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	id, err := bus.CreatePage(context.Background(), mmsb.PageSpec{Size: 64})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := server.New(server.Config{Bus: bus, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	h := server.LimitRequests(srv.Mux(server.HTTPOptions{}), 0, 0, quiet)
	body := []byte(fmt.Sprintf(`{"items":[{"page":"%d"}]}`, id))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r := httptest.NewRequest(http.MethodPost, "/mmsb.v1.BusService/Read", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = "192.0.2.1:1000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("Read: %d %s", w.Code, w.Body.String())
		}
	}
}
