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

// TestServeProbeConnReserve: serve gives its listener the probe
// connections' reserve: with --max-conns 1 held by a connection (a
// request whose body is not yet sent), /healthz and /readyz are still
// answered ok on new connections, while /metrics on one is refused
// naming --max-conns 1; once the held connection closes, /metrics
// answers again. Until 2026-12-07 every connection past --max-conns was
// closed unanswered, a probe's too (control: '/metrics ...: Get ...:
// EOF').
func TestServeProbeConnReserve(t *testing.T) {
	addr, _, _ := startServe(t, "--addr", "127.0.0.1:0", "--max-conns", "1")
	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	fmt.Fprintf(held, "POST /mmsb.v1.BusService/Stats HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr)
	get := func(path string) (int, string, error) {
		t.Helper()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("http://" + addr + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	deadline := time.Now().Add(30 * time.Second) // failure bounds, not timing assertions
	for {
		code, body, err := get("/metrics")
		if err == nil && code == http.StatusServiceUnavailable && strings.Contains(body, "--max-conns 1") && strings.Contains(body, "resource_exhausted") {
			break
		}
		if err != nil || code != http.StatusOK || time.Now().After(deadline) {
			t.Fatalf("/metrics with --max-conns 1 held: %d %q, err %v; want 503 naming --max-conns 1", code, body[:min(len(body), 300)], err)
		}
		time.Sleep(20 * time.Millisecond) // the held connection not yet accepted
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body, err := get(p); err != nil || code != http.StatusOK || body != "ok\n" {
			t.Errorf("%s with --max-conns 1 held: %d %q, err %v; want 200 \"ok\\n\" (from the probe connections' reserve)", p, code, body, err)
		}
	}
	_ = held.Close()
	for {
		code, body, err := get("/metrics")
		if err == nil && code == http.StatusOK {
			break
		}
		if time.Now().After(deadline.Add(30 * time.Second)) {
			t.Fatalf("/metrics once the held connection closed: %d %q, err %v; want 200", code, body[:min(len(body), 300)], err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
