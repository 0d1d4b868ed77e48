package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestHostGuard: without authentication, a request whose Host is a name
// other than localhost, the listen address's host or an allowed one is
// refused with 403 naming the host and --allowed-hosts; loopback names and
// IPs, with any port, are served. Until 2026-12-06 a loopback serve with no
// token answered Host: attacker.example, so a web page whose name rebinds
// to 127.0.0.1 could read and write the bus through a local browser.
func TestHostGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "served") })
	for _, tc := range []struct {
		name, listen string
		allowed      []string
		host         string
		served       bool
	}{
		{"attacker name", "127.0.0.1:7070", nil, "attacker.example:7070", false},
		{"attacker name without port", "127.0.0.1:7070", nil, "attacker.example", false},
		{"name resolving to loopback is still a name", "127.0.0.1:7070", nil, "localtest.me:7070", false},
		{"suffix of localhost is no localhost", "127.0.0.1:7070", nil, "evillocalhost:7070", false},
		{"localhost", "127.0.0.1:7070", nil, "localhost:7070", true},
		{"localhost other port", "127.0.0.1:7070", nil, "localhost:1", true},
		{"localhost upper case, trailing dot", "127.0.0.1:7070", nil, "LocalHost.:7070", true},
		{"name under localhost", "127.0.0.1:7070", nil, "app.localhost:7070", true},
		{"127.0.0.1", "127.0.0.1:7070", nil, "127.0.0.1:7070", true},
		{"127.1.2.3", "127.0.0.1:7070", nil, "127.1.2.3", true},
		{"[::1]", "[::1]:7070", nil, "[::1]:7070", true},
		{"no Host (HTTP/1.0)", "127.0.0.1:7070", nil, "", true},
		{"listen host name", "localhost:7070", nil, "localhost:7070", true},
		{"listen host name of an --insecure server", "bus.internal:7070", nil, "bus.internal:7070", true},
		{"allowed name", "127.0.0.1:7070", []string{"Dev.Example"}, "dev.example:8080", true},
		{"allowed name, another one asked", "127.0.0.1:7070", []string{"dev.example"}, "attacker.example", false},
		{"allow all", "127.0.0.1:7070", []string{"*"}, "attacker.example", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/readyz", nil)
			req.Host = tc.host
			w := httptest.NewRecorder()
			server.HostGuard(ok, tc.listen, tc.allowed).ServeHTTP(w, req)
			body := w.Body.String()
			if tc.served {
				if w.Code != http.StatusOK || body != "served" {
					t.Fatalf("Host %q: %d %q, want it served", tc.host, w.Code, body)
				}
				return
			}
			if w.Code != http.StatusForbidden || !strings.Contains(body, "--allowed-hosts") || !strings.Contains(body, tc.host) {
				t.Fatalf("Host %q: %d %q, want 403 naming the host and --allowed-hosts", tc.host, w.Code, body)
			}
		})
	}
}

// TestCheckAllowedHost: an --allowed-hosts entry the guard could never
// match (a port, a URL, nothing) is refused naming it.
func TestCheckAllowedHost(t *testing.T) {
	for _, tc := range []struct {
		entry string
		ok    bool
	}{
		{"dev.example", true}, {"*", true}, {"10.0.0.1", true}, {"::1", true}, {"[::1]", true},
		{"", false}, {"dev.example:7070", false}, {"http://dev.example", false}, {"a b", false},
	} {
		err := server.CheckAllowedHost(tc.entry)
		if tc.ok != (err == nil) {
			t.Errorf("CheckAllowedHost(%q) = %v, want ok %v", tc.entry, err, tc.ok)
		}
		if err != nil && (!errors.Is(err, server.ErrHostNotAllowed) || !strings.Contains(err.Error(), "--allowed-hosts")) {
			t.Errorf("CheckAllowedHost(%q) = %v: want ErrHostNotAllowed naming --allowed-hosts", tc.entry, err)
		}
	}
}

// hostRewriter sends every request with Host attacker.example, as a
// browser does for a page whose name was rebound to the server's address.
type hostRewriter struct{ rt http.RoundTripper }

func (h hostRewriter) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Host = "attacker.example"
	return h.rt.RoundTrip(r)
}

// TestHostGuardRPCError: an RPC the guard refuses gets permission_denied
// in its own protocol (Connect, gRPC), with the reason: the Go client
// said only "permission_denied: HTTP status 403 Forbidden" when the guard
// answered plain text.
func TestHostGuardRPCError(t *testing.T) {
	f := newFixture(t, fixOpts{})
	hs := httptest.NewUnstartedServer(server.HostGuard(f.http.Config.Handler, "127.0.0.1:7070", nil))
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	hs.Config.Protocols = &p
	hs.Start()
	defer hs.Close()
	for _, grpc := range []bool{false, true} {
		tr := &http.Transport{}
		opts := []client.Option{client.WithRetries(0, 0)}
		if grpc {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			tr.Protocols = &p
			opts = append(opts, client.WithGRPC())
		}
		c, err := client.New(hs.URL, append(opts, client.WithHTTPClient(&http.Client{Transport: hostRewriter{tr}}))...)
		if err != nil {
			t.Fatal(err)
		}
		_, statsErr := c.Stats(context.Background())
		watchErr := c.Watch(context.Background(), client.WatchOptions{}, func(client.WatchEvent) error { return nil })
		for _, err := range []error{statsErr, watchErr} {
			if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), `Host "attacker.example"`) || !strings.Contains(err.Error(), "--allowed-hosts") {
				t.Errorf("gRPC %v: %v; want permission_denied naming the host and --allowed-hosts", grpc, err)
			}
		}
	}
}
