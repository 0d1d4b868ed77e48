package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeRequestLimit: serve puts --max-requests in front of every
// handler: with --max-requests 1 and one request held (its body not yet
// sent), a second RPC is answered 503 naming the flag and the bound,
// while /healthz and /readyz still answer ok (from the probe reserve: a
// busy server is not restarted by its liveness probe; they were refused
// 503 too before 2026-12-06) and /metrics answers from its own reserve
// (refused too until 2026-12-08: an operator needs it most when the
// server is full); once the held request's connection closes, the RPC is
// answered again (the control). Until 2026-12-06 serve had no bound on
// requests in flight but --max-conns x --max-streams.
func TestServeRequestLimit(t *testing.T) {
	addr, _, _ := startServe(t, "--addr", "127.0.0.1:0", "--max-requests", "1")
	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fmt.Fprintf(held, "POST /mmsb.v1.BusService/Stats HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	stats := func() (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+addr+"/mmsb.v1.BusService/Stats", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(30 * time.Second) // failure bounds, not timing assertions
	for {
		code, body := stats()
		if code == http.StatusServiceUnavailable && strings.Contains(body, "--max-requests 1") && strings.Contains(body, "resource_exhausted") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Stats with one request held and --max-requests 1: %d %q; want 503 naming --max-requests 1", code, body[:min(len(body), 300)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p); code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s with one request held and --max-requests 1: %d %q; want 200 \"ok\\n\" (probes are answered from their reserve)", p, code, body)
		}
	}
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, "# HELP") {
		t.Errorf("/metrics with one request held and --max-requests 1: %d %q; want 200 (answered from the metrics reserve)", code, body[:min(len(body), 300)])
	}
	_ = held.Close()
	for {
		code, body := stats()
		if code == http.StatusOK {
			break
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("Stats once the held request's connection closed: %d %q; want 200", code, body[:min(len(body), 300)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
