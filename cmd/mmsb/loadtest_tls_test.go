package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/server"
)

// loadtestCert writes a self-signed certificate (its own CA) and its key,
// PEM, in dir: for 127.0.0.1 as a server's, else as a client's.
func loadtestCert(t *testing.T, dir, name string, isServer bool) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{"write"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	if isServer {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestLoadtestTLS: loadtest measures an https:// server whose certificate
// a private CA signed and that requires a client certificate, given
// --ca, --client-cert and --client-key; until 2026-12-07 it had no such
// flags and failed "x509: certificate signed by unknown authority"; its
// --stalled-watchers too. The controls: without --ca the failure names
// the flag to give; the flags with an http:// server, or a certificate
// without its key, are usage errors.
func TestLoadtestTLS(t *testing.T) {
	dir := t.TempDir()
	srvCert, srvKey, _ := loadtestCert(t, dir, "server", true)
	cliCert, cliKey, cli := loadtestCert(t, dir, "client", false)
	bus, err := mmsb.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := server.New(server.Config{Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cli)
	hs := httptest.NewUnstartedServer(server.ClientCertMiddleware(srv.Mux(server.HTTPOptions{Auth: server.NewAuth(nil)})))
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	server.ClientCertTLS(hs.TLS, pool)
	hs.StartTLS()
	t.Cleanup(hs.Close)
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })

	run := []string{"loadtest", "--server", hs.URL, "--clients", "1", "--duration", "200ms", "--batch", "10", "--pages", "16", "--json"}
	r := runCLI(t, append(run, "--ca", srvCert, "--client-cert", cliCert, "--client-key", cliKey)...).mustCode(t, exitOK)
	var res loadtestResult
	r.decodeJSON(t, &res)
	if res.Commits == 0 || res.Errors != 0 {
		t.Fatalf("%+v", res)
	}
	// The stalled watchers, each on a connection of its own, take the
	// flags too (a run with them failed "opening stalled watchers: ...
	// unknown authority" if they did not).
	r = runCLI(t, "loadtest", "--server", hs.URL, "--clients", "1", "--duration", "400ms", "--batch", "10", "--pages", "16",
		"--stalled-watchers", "2", "--json", "--ca", srvCert, "--client-cert", cliCert, "--client-key", cliKey).mustCode(t, exitOK)
	res = loadtestResult{}
	r.decodeJSON(t, &res)
	if len(res.Phases) != 4 || res.Errors != 0 {
		t.Fatalf("--stalled-watchers over TLS: %+v", res)
	}
	for i, p := range res.Phases {
		if want := 2 * (i % 2); want > 0 && p.WatchersAtEnd < uint64(want) {
			t.Fatalf("--stalled-watchers over TLS: phase %d: %+v: the stalled watches were not open", i, p)
		}
	}
	r = runCLI(t, run...).mustCode(t, exitFailure)
	if !strings.Contains(r.stderr, "x509") || !strings.Contains(r.stderr, "--ca") {
		t.Fatalf("without --ca: stderr %q, want the x509 failure and --ca named", r.stderr)
	}
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--server", "http://127.0.0.1:7070", "--ca", srvCert}, "https://"},
		{[]string{"--server", hs.URL, "--client-cert", cliCert}, "--client-cert and --client-key go together"},
		{[]string{"--server", hs.URL, "--ca", filepath.Join(dir, "none.pem")}, "--ca "},
	} {
		r := runCLI(t, append([]string{"loadtest"}, c.args...)...).mustCode(t, exitUsage)
		if !strings.Contains(r.stderr, c.says) {
			t.Fatalf("loadtest %v: stderr %q, want %q", c.args, r.stderr, c.says)
		}
	}
}

// TestLoadtestStalledWatchersAuthenticate: --stalled-watchers' watches
// carry --token, as the committing clients do: without it a server with
// tokens refused them, and the phases meant to run beside stalled
// watches ran beside none (WatchersAtEnd 0).
func TestLoadtestStalledWatchersAuthenticate(t *testing.T) {
	const tok = "w-7f3c0d2a9b8e4f61a5c3"
	hs, _ := startLoadtestServer(t, server.HTTPOptions{Auth: server.NewAuth([]server.Token{{Role: server.RoleWrite, Value: tok}})}, nil)
	r := runCLI(t, "loadtest", "--server", hs.URL, "--token", tok, "--clients", "1", "--duration", "400ms", "--batch", "10", "--pages", "16",
		"--stalled-watchers", "2", "--json").mustCode(t, exitOK)
	var res loadtestResult
	r.decodeJSON(t, &res)
	if len(res.Phases) != 4 || res.Errors != 0 {
		t.Fatalf("%+v", res)
	}
	for i, p := range res.Phases {
		if want := 2 * (i % 2); want > 0 && p.WatchersAtEnd < uint64(want) {
			t.Fatalf("phase %d: %+v: the stalled watches were not open", i, p)
		}
	}
}
