package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeWarnsCleartextTokens: serve with --token-file on an address
// beyond loopback and without TLS, the way its help's example starts it,
// warns that the tokens travel in cleartext (it said nothing). The
// controls: on loopback, or with TLS, it does not warn.
func TestServeWarnsCleartextTokens(t *testing.T) {
	tokFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokFile, []byte("read read-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key := selfSignedCert(t)
	const warning = "bearer tokens travel in cleartext"
	for _, c := range []struct {
		name string
		args []string
		warn bool
	}{
		{"all addresses, no TLS", []string{"--addr", "0.0.0.0:0"}, true},
		{"control: loopback, no TLS", []string{"--addr", "127.0.0.1:0"}, false},
		{"control: all addresses, TLS", []string{"--addr", "0.0.0.0:0", "--tls-cert", cert, "--tls-key", key}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr syncText
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			exited := make(chan int, 1)
			args := append([]string{"serve", "--token-file", tokFile}, c.args...)
			go func() { exited <- run(ctx, args, &stdout, &stderr) }()
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(stderr.String(), "msg=serving") {
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
			cancel()
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				t.Fatalf("serve %v did not stop", args)
			}
			if got := strings.Contains(stderr.String(), warning); got != c.warn {
				t.Fatalf("serve %v: warned %v, want %v:\n%s", args, got, c.warn, stderr.String())
			}
		})
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, PEM.
func selfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
