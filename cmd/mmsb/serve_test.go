package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/testutil"
)

// syncText is a buffer the server's log goroutines and the test share.
type syncText struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncText) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncText) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServe runs `mmsb serve` on a directory, uses it through the client,
// then shuts it down as SIGTERM would (the context), and checks that the
// watch ended with the resumable error and that every commit is on disk.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	tokFile := filepath.Join(t.TempDir(), "tokens")
	const tok = "write-token-for-the-serve-test"
	if err := os.WriteFile(tokFile, []byte("write "+tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr syncText
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--token-file", tokFile, "--log-level", "debug"}, &stdout, &stderr)
	}()
	addrRe := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if m := addrRe.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	base := "http://" + addr
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(base + p)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	// Calls without a token are refused before their message is read, on
	// the inspector's service too: a malformed body is not decoded (it
	// answered invalid_argument, showing an unauthenticated client that
	// the server had buffered and decoded it).
	for _, svc := range []string{"/mmsb.v1.BusService/Commit", "/mmsb.inspector.v1.InspectorService/Overview"} {
		resp, err := http.Post(base+svc, "application/proto", strings.NewReader("\xff\xff\xff\xff"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), `"code":"unauthenticated"`) {
			t.Fatalf("%s with a malformed body and no token: %d %s, want unauthenticated", svc, resp.StatusCode, b)
		}
	}
	c, err := client.New(base, client.WithToken(tok), client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	id, err := c.CreatePage(bg, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Commit(bg, []mmsb.Delta{mmsb.Write(id, 0, []byte("served"))})
	if err != nil {
		t.Fatal(err)
	}
	// A watch that sees the commit, then the shutdown.
	watchErr := make(chan error, 1)
	seen := make(chan struct{})
	go func() {
		var once sync.Once
		watchErr <- c.Watch(bg, client.WatchOptions{FromLSN: 1, MaxReconnects: 1}, func(ev client.WatchEvent) error {
			if ev.ProgressLSN >= info.LastLSN {
				once.Do(func() { close(seen) })
			}
			return nil
		})
	}()
	testutil.Recv(t, seen, "the watch through serve did not see the commit")
	cancel() // what SIGTERM does
	select {
	case code := <-exited:
		if code != exitOK {
			t.Fatalf("serve exited %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if err := testutil.Recv(t, watchErr, "the watch did not end after serve stopped"); err == nil {
		t.Fatal("watch survived the shutdown")
	}
	if !strings.Contains(stderr.String(), "Mmsb-Last-Lsn") && !strings.Contains(stderr.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), tok) {
		t.Fatal("the token is in the logs")
	}
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	b, _, err := bus.ReadPage(id, nil)
	if err != nil || string(b[:6]) != "served" {
		t.Fatalf("after restart: %q %v", b, err)
	}
}

func TestServeRefusesExposure(t *testing.T) {
	r := runCLI(t, "serve", "--addr", "0.0.0.0:0").mustCode(t, exitUsage) // a refused flag combination (TestServeExposedAddrIsUsageError)
	if !strings.Contains(r.stderr, "not a loopback address") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	tokFile := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokFile, []byte("read 0123456789abcdef0123\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "serve", "--addr", "0.0.0.0:0", "--token-file", tokFile).mustCode(t, exitFailure)
	if !strings.Contains(r.stderr, "chmod 600") || strings.Contains(r.stderr, "0123456789abcdef0123") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	runCLI(t, "serve", "--sync", "sometimes").mustCode(t, exitUsage)
	runCLI(t, "serve", "--tls-cert", "x").mustCode(t, exitUsage)
}
