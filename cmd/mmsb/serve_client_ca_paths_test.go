package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeClientCAPaths: serve --client-ca, as started from the command
// line (the inspector and /metrics mounted beside the service), answers a
// client without a certificate its probes and /metrics, and refuses it
// everything else with 401, whatever the method or the path's spelling:
// the handshake admits such a client (server.ClientCertTLS), so only
// ClientCertMiddleware, around the whole mux, keeps it out.
func TestServeClientCAPaths(t *testing.T) {
	cert, key := selfSignedCert(t)
	var stdout, stderr syncText
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	args := []string{"serve", "--addr", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key, "--client-ca", cert}
	go func() { exited <- run(ctx, args, &stdout, &stderr) }()
	defer func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			t.Errorf("serve %v did not stop", args)
		}
	}()
	addrRE := regexp.MustCompile(`msg=serving addr=(\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	var addr string
	for addr == "" {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case code := <-exited:
			t.Fatalf("serve %v exited %d:\n%s", args, code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve %v did not start:\n%s", args, stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// No certificate; the server's own is self-signed, not checked here.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}}
	defer hc.CloseIdleConnections()
	status := func(method, path string) (int, string) {
		req, err := http.NewRequest(method, "https://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/healthz", "/readyz", "/readyz/reads", "/metrics"} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			if code, body := status(m, p); code != http.StatusOK {
				t.Errorf("%s %s without a certificate: %d %q; want 200", m, p, code, body)
			}
		}
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/"}, {http.MethodGet, "/ui/"}, {http.MethodGet, "//healthz"}, {http.MethodGet, "/healthz/"},
		{http.MethodOptions, "/healthz"}, {http.MethodPost, "/metrics"},
		{http.MethodPost, "/mmsb.v1.BusService/Stats"}, {http.MethodPost, "/mmsb.inspector.v1.InspectorService/Overview"},
	} {
		if code, body := status(c.method, c.path); code != http.StatusUnauthorized || !strings.Contains(body, "client certificate") {
			t.Errorf("%s %s without a certificate: %d %q; want 401 naming the client certificate", c.method, c.path, code, body)
		}
	}
}
