package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestDataDirErrorsQuoteOddPaths: a DIR whose name holds a newline or a
// byte that is not UTF-8 was printed raw in the data directory errors:
// the one-line `mmsb <command>: ...` message broke over two lines (a log
// reader took the second for a message of its own) and the byte reached
// the terminal. Such a DIR is now Go-quoted there, and said once.
func TestDataDirErrorsQuoteOddPaths(t *testing.T) {
	base := t.TempDir()
	for _, name := range []string{"a\nb", "c\xffd"} {
		missing := filepath.Join(base, "missing-"+name)
		other := filepath.Join(base, "other-"+name)
		if err := os.MkdirAll(filepath.Join(other, "wal"), 0o755); err != nil {
			t.Fatal(err)
		}
		replica := filepath.Join(base, "replica-"+name)
		bus, err := mmsb.Open(replica, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(replica, "replicate-stream"), []byte("mmsb-replica MMSB_LOG_mmsb\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			args []string
			dir  string
			code int
		}{
			{[]string{"check", missing}, missing, exitFailure},
			{[]string{"inspect", other}, other, exitFailure},
			{[]string{"checkpoint", other}, other, exitFailure},
			{[]string{"serve", "--addr", "127.0.0.1:0", "--dir", replica}, replica, exitUsage},
		} {
			r := runCLI(t, tc.args...).mustCode(t, tc.code)
			first, _, _ := strings.Cut(r.stderr, "\n")
			if !strings.Contains(first, strconv.Quote(tc.dir)) || strings.Contains(r.stderr, tc.dir) {
				t.Errorf("mmsb %q: stderr %q, want %s quoted on its first line and never raw", tc.args, r.stderr, strconv.Quote(tc.dir))
			}
		}
	}
}
