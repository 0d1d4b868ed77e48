package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeBadAddrIsUsageError: an --addr that is no HOST:PORT is a bad
// flag value (exit 2, naming --addr), found before anything is opened: the
// --dir it would have served is not created.
func TestServeBadAddrIsUsageError(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
	}{
		{"no port", "localhost"},
		{"port out of range", "127.0.0.1:99999"},
		{"negative port", "127.0.0.1:-1"},
		{"unknown service", "127.0.0.1:no-such-service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			r := runCLI(t, "serve", "--dir", dir, "--addr", tc.addr).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, "--addr") || !strings.Contains(r.stderr, tc.addr) {
				t.Errorf("stderr %q does not name --addr %s", r.stderr, tc.addr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("serve with a bad --addr created %s (stat: %v)", dir, err)
			}
		})
	}
}

// TestServeListenFailureCreatesNothing: when the address is taken, serve
// fails (exit 1, naming --addr) before it opens the bus, so a --dir that
// did not exist is not left behind as an empty data directory.
func TestServeListenFailureCreatesNothing(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	dir := filepath.Join(t.TempDir(), "data")
	r := runCLI(t, "serve", "--dir", dir, "--addr", addr).mustCode(t, exitFailure)
	if !strings.Contains(r.stderr, "--addr "+addr) {
		t.Errorf("stderr %q does not name --addr %s", r.stderr, addr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("serve that could not listen created %s (stat: %v)", dir, err)
	}
}
