package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestErrorsQuoteOddUserPaths: the data directory errors Go-quote a DIR
// whose name holds a newline or bytes that are not UTF-8
// (TestDataDirErrorsQuoteOddPaths), but every other error naming a path
// the user gave printed it raw: a flag's check (serve --dir, replicate
// --dir, replay --out, --cpuprofile), an OS error naming it. The one-line
// `mmsb <command>: ...` message broke over two lines (a log reader took the
// second for a message of its own) and the byte reached the terminal. Each
// such path is now quoted (termText) in every command's error, and never
// printed raw.
func TestErrorsQuoteOddUserPaths(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	bus := newTestBus(t).dir
	for _, name := range []string{"a\nb", "c\xffd"} {
		underFile := filepath.Join(file, name) // below a file: no directory can be made there
		missing := filepath.Join(base, "missing", name)
		for _, tc := range []struct {
			args []string
			path string // the path given, which the error names
		}{
			{[]string{"serve", "--addr", "127.0.0.1:0", "--dir", underFile}, underFile},
			{[]string{"replicate", "--dir", underFile}, underFile},
			{[]string{"follow", "--nats", "nats://127.0.0.1:1", "--dir", underFile}, underFile},
			{[]string{"replay", bus, "--to-lsn", "1", "--out", underFile}, underFile},
			{[]string{"check", "--cpuprofile", filepath.Join(missing, "cpu.pprof"), bus}, filepath.Join(missing, "cpu.pprof")},
			{[]string{"read", "--shm-dir", missing, bus, "--page", "1"}, missing},
			{[]string{"validate", "--dir", missing}, missing},
			{[]string{"bench", "--dir", underFile, "--count", "1"}, underFile},
		} {
			r := runCLI(t, tc.args...)
			if r.code == exitOK {
				t.Fatalf("mmsb %q: exit 0, want an error", tc.args)
			}
			first, _, _ := strings.Cut(r.stderr, "\n")
			if !strings.Contains(first, strconv.Quote(tc.path)) || strings.Contains(r.stderr, name) {
				t.Errorf("mmsb %q: stderr %q, want %s quoted on its first line and never raw", tc.args, r.stderr, strconv.Quote(tc.path))
			}
		}
	}
}
