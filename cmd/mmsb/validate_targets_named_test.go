package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateTargetsFileNamed: a --targets file the harness refuses is a
// usage error naming the flag and the file, and for JSON the decoder
// refuses, the line and column where it stopped. `--targets /etc/passwd`
// said "usage: harness: targets: invalid character 'r' looking for
// beginning of value", naming neither. Nothing runs (nothing on stdout).
func TestValidateTargetsFileNamed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	passwd := write("passwd", "root:x:0:0:root:/root:/bin/bash\n")
	bad := write("bad.json", "{\"version\": 1,\n  \"benchmarks\": x}\n")
	typ := write("type.json", `{"version": "1"}`)
	version := write("version.json", `{"version": 2}`)
	for _, tc := range []struct{ path, want string }{
		{passwd, "--targets " + passwd + ": line 1, column 1: invalid character 'r' looking for beginning of value"},
		{bad, "--targets " + bad + ": line 2, column 17: invalid character 'x' looking for beginning of value"},
		{typ, "--targets " + typ + ": line 1, column 15: json: cannot unmarshal string"},
		{version, "--targets " + version + ": unsupported version 2"},
	} {
		r := runCLI(t, "validate", "--quick", "--targets", tc.path).mustCode(t, exitUsage)
		if !strings.Contains(r.stderr, "usage: "+tc.want) || strings.Contains(r.stderr, "harness: targets") || r.stdout != "" {
			t.Errorf("validate --targets %s: stderr %q (stdout %q), want %q", tc.path, r.stderr, r.stdout, "usage: "+tc.want)
		}
	}
}
