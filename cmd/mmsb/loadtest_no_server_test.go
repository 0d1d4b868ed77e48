package main

import (
	"net"
	"strings"
	"testing"
)

// TestLoadtestNoServerSaysStartOne: loadtest against an address where no
// server listens fails (exit 1) with the connection's reason and how to
// get what it measures: a running mmsb serve on that address. It said only
// "creating pages: unavailable: dial tcp ...: connection refused".
func TestLoadtestNoServerSaysStartOne(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil { // nothing listens there now
		t.Fatal(err)
	}
	r := runCLI(t, "loadtest", "--server", "http://"+addr, "--duration", "1s").mustCode(t, exitFailure)
	for _, want := range []string{"connection refused", "(loadtest measures a running server: start one, mmsb serve --addr " + addr + ", or give its URL with --server)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
