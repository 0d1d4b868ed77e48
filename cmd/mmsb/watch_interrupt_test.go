package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestWatchInterruptIsNormalEnd: without --count, watch runs "until
// interrupted" (docs/cli.md), so SIGINT/SIGTERM — the cancelled context
// main hands to the command — ends it with exit status 0 and no error
// line; an interrupt before --count lines were printed is a failure.
func TestWatchInterruptIsNormalEnd(t *testing.T) {
	ctx := context.Background()
	dir, shm := t.TempDir(), shmDirForTest(t)
	bus, err := mmsb.Open(dir, &mmsb.Options{Shared: true, SharedDir: shm})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"until interrupted", nil, exitOK, ""},
		{"before --count lines", []string{"--count", "5"}, exitFailure, "mmsb watch: interrupted after 0 of 5 lines: context canceled\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			interrupted, cancel := context.WithCancel(ctx)
			cancel() // the signal arrived
			var out, errb bytes.Buffer
			args := append([]string{"watch", dir, "--shm-dir", shm}, tc.args...)
			code := run(interrupted, args, &out, &errb)
			if code != tc.code || errb.String() != tc.stderr {
				t.Fatalf("exit status %d, stderr %q; want %d, %q", code, errb.String(), tc.code, tc.stderr)
			}
		})
	}
}
