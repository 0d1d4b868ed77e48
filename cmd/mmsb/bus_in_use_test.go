package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestBusInUseSaidOneWay: every command that opens a bus directory as its
// writer says the same when another process holds it (exit 1, "DIR is in
// use: another process holds its write lock (...)"): checkpoint said so,
// while serve, replicate and serve --replicate printed the bare "vfs:
// lock held: DIR/LOCK".
func TestBusInUseSaidOneWay(t *testing.T) {
	// A standalone bus (serve and checkpoint) and a replication node's
	// directory (the replication commands refuse a standalone bus before
	// they take its lock), each held by this process.
	dir := filepath.Join(t.TempDir(), "data")
	node := filepath.Join(t.TempDir(), "node")
	runCLI(t, "replicate", "--dir", node, "--duration", "1s", "--status-every", "0").mustCode(t, exitOK)
	for _, d := range []string{dir, node} {
		bus, err := mmsb.Open(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer bus.Close()
	}
	for _, tc := range []struct {
		dir  string
		args []string
	}{
		{dir, []string{"checkpoint", dir}},
		{dir, []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0"}},
		{node, []string{"serve", "--replicate", "--dir", node, "--addr", "127.0.0.1:0"}},
		{node, []string{"replicate", "--dir", node, "--duration", "20s", "--status-every", "0"}},
	} {
		dir, args := tc.dir, tc.args
		t.Run(strings.Join(args[:2], " "), func(t *testing.T) {
			// A deadline ends a command that starts instead of failing.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errb strings.Builder
			if code := run(ctx, args, &out, &errb); code != exitFailure {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, exitFailure, out.String(), errb.String())
			}
			if want := dir + " is in use: another process holds its write lock ("; !strings.Contains(errb.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, errb.String())
			}
		})
	}
}

// TestServeExposedAddrIsUsageError: a non-loopback --addr without
// authentication or --insecure is a refused combination of flags, a usage
// error (exit 2) naming the address and the flags that allow it, found
// before anything is opened; it exited 1.
func TestServeExposedAddrIsUsageError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	r := runCLI(t, "serve", "--dir", dir, "--addr", "0.0.0.0:0").mustCode(t, exitUsage)
	for _, want := range []string{"0.0.0.0:0", "--token-file", "--insecure"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %q", want, r.stderr)
		}
	}
	if requireDataDir(dir) == nil {
		t.Errorf("a refused serve made %s", dir)
	}
}
