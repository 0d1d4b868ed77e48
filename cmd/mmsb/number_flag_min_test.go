package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestNumberFlagErrSaysOneOrMore: a number flag whose command refuses 0 (a
// page ID, an LSN) says "1 or more" of a value that does not parse, as its
// refusal of 0 does. `read --page abc` said "want a whole number, 0 or
// more", then `read --page 0` was refused with "N >= 1". A flag that takes
// 0 (replay --to-lsn: no limit) still says "0 or more".
func TestNumberFlagErrSaysOneOrMore(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"read", missing, "--page", "abc"}, `usage: --page "abc": want a whole number, 1 or more`},
		{[]string{"read", missing, "--page", "1", "--at-lsn", "abc"}, `usage: --at-lsn "abc": want a whole number, 1 or more`},
		{[]string{"watch", missing, "--page", "abc"}, `usage: --page "abc": want a whole number, 1 or more`},
		{[]string{"replay", missing, "--page", "abc"}, `usage: --page "abc": want a whole number, 1 or more`},
		{[]string{"read", missing, "--page", "0"}, "usage: --page N (N >= 1) is required"},
		{[]string{"replay", missing, "--to-lsn", "abc"}, `usage: --to-lsn "abc": want a whole number, 0 or more`},
	} {
		t.Run(tc.args[0]+" "+strings.Join(tc.args[2:], " "), func(t *testing.T) {
			r := runCLI(t, tc.args...).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
				t.Errorf("%s: stderr %q (stdout %q), want %q", tc.args[0], r.stderr, r.stdout, tc.want)
			}
		})
	}
}
