package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeHostGuard: `mmsb serve` on loopback without authentication
// refuses (403, naming the host and --allowed-hosts) every request whose
// Host is a name other than localhost or an allowed one, on everything it
// mounts: the RPCs, the inspector, /metrics and the probes. A web page
// whose name rebinds to 127.0.0.1 (DNS rebinding) could read and write the
// bus through a local browser before 2026-12-06. Requests addressed to
// localhost:PORT and 127.0.0.1:PORT are served; --allowed-hosts adds a
// name. With a token every Host is served (the page has no token).
func TestServeHostGuard(t *testing.T) {
	type req struct{ method, path, body string }
	paths := []req{
		{http.MethodPost, "/mmsb.v1.BusService/Stats", "{}"},
		{http.MethodGet, "/ui/", ""},
		{http.MethodGet, "/metrics", ""},
		{http.MethodGet, "/readyz", ""},
		{http.MethodGet, "/healthz", ""},
	}
	do := func(t *testing.T, addr, host string, r req, header http.Header) (int, string) {
		t.Helper()
		hr, err := http.NewRequest(r.method, "http://"+addr+r.path, strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		hr.Host = host
		if r.body != "" {
			hr.Header.Set("Content-Type", "application/json")
		}
		for k, v := range header {
			hr.Header[k] = v
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("no auth", func(t *testing.T) {
		addr, _, _ := startServe(t, "--addr", "127.0.0.1:0", "--allowed-hosts", "dev.example")
		port := addr[strings.LastIndex(addr, ":"):]
		for _, r := range paths {
			for _, host := range []string{"attacker.example" + port, "attacker.example", "localtest.me" + port} {
				code, body := do(t, addr, host, r, nil)
				if code != http.StatusForbidden || !strings.Contains(body, host) || !strings.Contains(body, "--allowed-hosts") {
					t.Errorf("%s %s with Host %s: %d %q; want 403 naming the host and --allowed-hosts", r.method, r.path, host, code, body)
				}
			}
			for _, host := range []string{"localhost" + port, "127.0.0.1" + port, "dev.example" + port} {
				if code, body := do(t, addr, host, r, nil); code != http.StatusOK {
					t.Errorf("%s %s with Host %s: %d %q; want it served", r.method, r.path, host, code, body)
				}
			}
		}
	})
	t.Run("token", func(t *testing.T) {
		tokFile := filepath.Join(t.TempDir(), "tokens")
		const tok = "read-token-for-the-host-guard-test"
		if err := os.WriteFile(tokFile, []byte("read "+tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		addr, _, _ := startServe(t, "--addr", "127.0.0.1:0", "--token-file", tokFile)
		h := http.Header{"Authorization": {"Bearer " + tok}}
		for _, r := range paths {
			if code, body := do(t, addr, "attacker.example", r, h); code != http.StatusOK {
				t.Errorf("%s %s with a token and Host attacker.example: %d %q; want it served", r.method, r.path, code, body)
			}
		}
		// Without the token, the page that rebinds gets no further than
		// the probes and /metrics, which carry no page data.
		if code, _ := do(t, addr, "attacker.example", paths[0], nil); code != http.StatusUnauthorized {
			t.Errorf("Stats with Host attacker.example and no token: %d, want 401", code)
		}
	})
	// serve --replicate mounts the same things on its own path: the guard
	// was missing there (the probes and /metrics answer in every role).
	t.Run("replicate", func(t *testing.T) {
		addr, _, _ := startServe(t, "--replicate", "--dir", filepath.Join(t.TempDir(), "bus"), "--addr", "127.0.0.1:0", "--lease-ttl", "1s")
		port := addr[strings.LastIndex(addr, ":"):]
		for _, r := range paths[2:] {
			if code, body := do(t, addr, "attacker.example"+port, r, nil); code != http.StatusForbidden || !strings.Contains(body, "--allowed-hosts") {
				t.Errorf("--replicate: %s %s with Host attacker.example: %d %q; want 403 naming --allowed-hosts", r.method, r.path, code, body)
			}
		}
		// Served, or 503 while the node takes its role: not refused.
		if code, body := do(t, addr, "localhost"+port, paths[4], nil); code == http.StatusForbidden {
			t.Errorf("--replicate: /healthz with Host localhost: %d %q; want it past the guard", code, body)
		}
	})
	t.Run("allowed-hosts with a token", func(t *testing.T) {
		tokFile := filepath.Join(t.TempDir(), "tokens")
		if err := os.WriteFile(tokFile, []byte("read read-token-for-the-host-guard-test\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--token-file", tokFile, "--allowed-hosts", "dev.example").mustCode(t, exitUsage)
		if !strings.Contains(r.stderr, "--allowed-hosts") {
			t.Errorf("stderr %q does not name --allowed-hosts", r.stderr)
		}
	})
}
