package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestCutEnvelopeInvalidArgument: a request whose body ends inside an
// envelope (part of its 5-byte prefix, or part of the message the prefix
// announced) is a client's error: over gRPC, gRPC-Web and Connect's
// streaming protocol, a Read and a Watch cut so are answered
// invalid_argument naming server.ErrCutEnvelope's text, and a Stats of
// one whole envelope is served. Control: Connect's envelope
// reader answered internal ("protocol error: promised 10 bytes in
// enveloped message, got 3 bytes").
func TestCutEnvelopeInvalidArgument(t *testing.T) {
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	hs := httptest.NewUnstartedServer(srv.Mux(server.HTTPOptions{}))
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	hc := hs.Client()
	whole := binary.BigEndian.AppendUint32([]byte{0}, 0) // an empty message
	cutMessage := append(binary.BigEndian.AppendUint32([]byte{0}, 10), 1, 2, 3)
	cutPrefix := []byte{0, 0, 0}
	call := func(proc, ct string, body []byte) (code, all string) {
		req, err := http.NewRequest(http.MethodPost, hs.URL+"/mmsb.v1.BusService/"+proc, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ct)
		if strings.HasPrefix(ct, "application/grpc") && !strings.Contains(ct, "web") {
			req.Header.Set("TE", "trailers")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		all = string(answer) + " " + resp.Header.Get("Grpc-Status") + " " + resp.Header.Get("Grpc-Message") + " " +
			resp.Trailer.Get("Grpc-Status") + " " + resp.Trailer.Get("Grpc-Message")
		flat := strings.ReplaceAll(strings.ToLower(string(answer)), " ", "")
		switch {
		case strings.Contains(all, `"code":"invalid_argument"`),
			resp.Header.Get("Grpc-Status")+resp.Trailer.Get("Grpc-Status") == "3",
			strings.Contains(flat, "grpc-status:3"):
			return "invalid_argument", all
		case strings.Contains(all, `"code":"internal"`),
			resp.Header.Get("Grpc-Status")+resp.Trailer.Get("Grpc-Status") == "13",
			strings.Contains(flat, "grpc-status:13"):
			return "internal", all
		case resp.Header.Get("Grpc-Status")+resp.Trailer.Get("Grpc-Status") == "0", strings.Contains(flat, "grpc-status:0"):
			return "ok", all
		}
		return "other", all
	}
	for _, c := range []struct {
		proc, ct string
	}{
		{"Read", "application/grpc"},
		{"Read", "application/grpc+proto"},
		{"Read", "application/grpc-web+proto"},
		{"Watch", "application/connect+proto"},
	} {
		for name, body := range map[string][]byte{"cut message": cutMessage, "cut prefix": cutPrefix} {
			code, all := call(c.proc, c.ct, body)
			if code != "invalid_argument" || !strings.Contains(all, "request body ends inside an enveloped message") {
				t.Errorf("%s as %s, %s: %s: %s; want invalid_argument naming the cut envelope", c.proc, c.ct, name, code, all)
			}
		}
	}
	if code, all := call("Stats", "application/grpc", whole); code != "ok" {
		t.Errorf("a whole empty Stats over gRPC: %s: %s; want it served", code, all)
	}
}
