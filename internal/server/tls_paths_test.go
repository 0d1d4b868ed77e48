package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1/inspectorv1connect"
	"github.com/mmsb-go/mmsb/internal/inspector"
	"github.com/mmsb-go/mmsb/internal/server"
)

// TestClientCertPaths: with client certificates required (ClientCertTLS
// and ClientCertMiddleware, as serve --client-ca sets them up), a client
// without a certificate reaches /healthz, /readyz and /metrics, as
// docs/server.md says any client can, and nothing else: an RPC (Connect
// or gRPC, a bearer token or not) is unauthenticated, the inspector's UI
// and API are refused with 401. A certificate of another CA fails the
// handshake; one of the CA reaches everything. Until 2026-12-07 the
// handshake required a certificate, and a probe or a scrape without one
// could not connect.
func TestClientCertPaths(t *testing.T) {
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Shutdown(context.Background()) }()
	const token = "0123456789abcdef-admin"
	auth := server.NewAuth([]server.Token{{Role: server.RoleAdmin, Value: token}})
	ins, err := inspector.New(inspector.Options{Bus: bus, Gate: auth.Gate,
		HandlerOptions: []connect.HandlerOption{connect.WithInterceptors(auth)}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ins.Close() }()
	mux := srv.Mux(server.HTTPOptions{Auth: auth})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "metrics\n") })
	ins.Mount(mux)
	ca, other := newCA(t), newCA(t)
	hs := httptest.NewUnstartedServer(server.ClientCertMiddleware(mux))
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, 2, "", true)}, MinVersion: tls.VersionTLS12}
	server.ClientCertTLS(hs.TLS, ca.pool)
	hs.EnableHTTP2 = true // gRPC's
	hs.StartTLS()
	defer hs.Close()

	tlsCfg := func(cert *tls.Certificate) *tls.Config {
		cfg := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		return cfg
	}
	// status answers method path (with a JSON body for a POST) over a
	// connection of its own.
	status := func(cert *tls.Certificate, method, path string) (int, string, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg(cert), DisableKeepAlives: true}}
		req, err := http.NewRequest(method, hs.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if method == http.MethodPost {
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	ctx := context.Background()
	overview := inspectorv1connect.InspectorServiceOverviewProcedure

	// Without a certificate: the probes and /metrics only.
	for _, p := range []string{"/healthz", "/readyz", "/readyz/reads", "/metrics", "/%68ealthz", "/metrics?x=1"} {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			if code, body, err := status(nil, m, p); err != nil || code != http.StatusOK {
				t.Errorf("%s %s without a certificate: %d %q, %v; want 200", m, p, code, body, err)
			}
		}
	}
	for _, p := range []string{"/ui/", "/", overview, "//healthz", "/healthz/", "/./healthz", "/readyz/", "/metrics/"} {
		m := http.MethodGet
		if p == overview {
			m = http.MethodPost
		}
		if code, body, err := status(nil, m, p); err != nil || code != http.StatusUnauthorized || !strings.Contains(body, "client certificate") {
			t.Errorf("%s %s without a certificate: %d %q, %v; want 401 naming the client certificate", m, p, code, body, err)
		}
	}
	// Another method on a probe's path: refused, not routed.
	for _, m := range []string{http.MethodOptions, http.MethodPost, http.MethodPut} {
		if code, body, err := status(nil, m, "/healthz"); err != nil || code != http.StatusUnauthorized {
			t.Errorf("%s /healthz without a certificate: %d %q, %v; want 401", m, code, body, err)
		}
	}
	for _, opts := range [][]client.Option{{}, {client.WithGRPC()}, {client.WithToken(token)}} {
		c, err := client.New(hs.URL, append(opts, client.WithTLS(tlsCfg(nil)), client.WithRetries(0, 0))...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Stats(ctx)
		if connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), "client certificate") {
			t.Errorf("Stats without a certificate (%d option(s)): %v; want unauthenticated naming the client certificate", len(opts), err)
		}
		_ = c.Close()
	}

	// A certificate of another CA: refused at the handshake, probes too.
	foreign := other.issue(t, 5, "admin", false)
	if code, _, err := status(&foreign, http.MethodGet, "/healthz"); err == nil {
		t.Errorf("GET /healthz with a certificate of another CA: %d; want the handshake refused", code)
	}
	fc, err := client.New(hs.URL, client.WithTLS(tlsCfg(&foreign)), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Stats(ctx); err == nil || connect.CodeOf(err) == connect.CodeUnauthenticated {
		t.Errorf("Stats with a certificate of another CA: %v; want the handshake refused", err)
	}
	_ = fc.Close()

	// A certificate of the CA: everything.
	mine := ca.issue(t, 6, "read", false)
	for _, p := range []string{"/healthz", "/metrics", "/ui/", overview} {
		m := http.MethodGet
		if p == overview {
			m = http.MethodPost
		}
		if code, body, err := status(&mine, m, p); err != nil || code != http.StatusOK {
			t.Errorf("%s %s with a certificate: %d %q, %v; want 200", m, p, code, body, err)
		}
	}
	c, err := client.New(hs.URL, client.WithTLS(tlsCfg(&mine)), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if _, err := c.Stats(ctx); err != nil {
		t.Errorf("Stats with a certificate: %v", err)
	}
}
