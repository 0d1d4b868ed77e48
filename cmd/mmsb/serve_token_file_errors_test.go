package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeTokenFileErrorsNameFlag: a token file serve cannot use (a bad
// mode, no token, an unknown role, a short token) is refused naming
// --token-file, as the TLS files' errors name theirs, and exits 1 as
// they do (the file is there; what it holds is wrong). Until 2026-12-07
// the error named no flag.
func TestServeTokenFileErrorsNameFlag(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct{ name, text, want string }{
		{"bad mode", "read r-7f3c0d2a9b8e4f61a5c3\n", "chmod 600"},
		{"empty", "", "holds no token"},
		{"unknown role", "reader r-7f3c0d2a9b8e4f61a5c3\n", "unknown role"},
		{"short token", "read r-7f3c\n", "shorter than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			mode := os.FileMode(0o600)
			if c.name == "bad mode" {
				mode = 0o644
			}
			f := write(strings.ReplaceAll(c.name, " ", "-")+".tok", c.text, mode)
			r := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--token-file", f).mustCode(t, exitFailure)
			if !strings.Contains(r.stderr, "--token-file: ") || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("stderr %q, want --token-file named and %q", r.stderr, c.want)
			}
		})
	}
	// The TLS files' errors, for comparison: the flag named, exit 1.
	bad := write("bad.pem", "not a certificate\n", 0o600)
	r := runCLI(t, "serve", "--addr", "127.0.0.1:0", "--tls-cert", bad, "--tls-key", bad).mustCode(t, exitFailure)
	if !strings.Contains(r.stderr, "--tls-cert/--tls-key: ") {
		t.Fatalf("stderr %q, want --tls-cert/--tls-key named", r.stderr)
	}
}
