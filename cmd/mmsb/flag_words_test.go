package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagRefusalsSaidPlainly: a refused flag value is said as the flag,
// the value and what the flag takes, a usage error (exit 2) with nothing
// on stdout. Before: `read --page -1` ended in `strconv.ParseUint:
// parsing "-1": invalid syntax`, `bench --sync foo` in `--sync: mmsb:
// invalid option: tlog: unknown sync mode`, and `serve --replicas 0` said
// `--replicas need --replicate`.
func TestFlagRefusalsSaidPlainly(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"read", missing, "--page", "-1"}, `usage: --page "-1": want a whole number, 1 or more`},
		{[]string{"watch", missing, "--page", "x"}, `usage: --page "x": want a whole number, 1 or more`},
		{[]string{"read", missing, "--page", "1", "--at-lsn", "99999999999999999999"}, `usage: --at-lsn "99999999999999999999": out of the range the flag holds`},
		{[]string{"bench", "--pages", "x"}, `usage: --pages "x": want a whole number`},
		{[]string{"bench", "--no-progress", "--sync", "foo"}, `usage: --sync "foo": want group, always or none`},
		{[]string{"serve", "--sync", "foo"}, `usage: --sync "foo": want group, always or none`},
		{[]string{"serve", "--replicas", "0"}, "usage: --replicas needs --replicate"},
		{[]string{"serve", "--replicas", "0", "--follow-only"}, "usage: --replicas, --follow-only need --replicate"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCLI(t, tc.args...).mustCode(t, exitUsage)
			if !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, "strconv") || r.stdout != "" {
				t.Errorf("stderr %q (stdout %q), want %q", r.stderr, r.stdout, tc.want)
			}
		})
	}
}
