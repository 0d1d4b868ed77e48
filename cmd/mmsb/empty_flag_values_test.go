package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmptyFlagValuesRefused: a text flag given an empty value (`--to-time
// "$T"` with T unset) was taken as not given, so the command did
// something else than asked and exited 0: replay --to-time "" replayed the
// whole log, bench --dir "" ran in memory, read --shm-dir "" read the
// files, validate --only "" ran every benchmark, serve --sync "" ran with
// group commit; serve --allowed-hosts "" added no host, as if not given.
// Each is now a usage error naming the flag, before anything starts
// (refuseEmptyValues), whichever command and whichever spelling (--flag=
// or --flag "").
func TestEmptyFlagValuesRefused(t *testing.T) {
	data := newTestBus(t).dir
	out := filepath.Join(t.TempDir(), "out")
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"replay", data, "--out", out, "--to-time", ""}, "--to-time"},
		{[]string{"replay", data, "--out", out, "--to-time="}, "--to-time"},
		{[]string{"bench", "--no-progress", "--pages", "2", "--count", "10", "--dir", ""}, "--dir"},
		{[]string{"read", data, "--page", "1", "--shm-dir", ""}, "--shm-dir"},
		{[]string{"validate", "--quick", "--only", ""}, "--only"},
		{[]string{"serve", "--addr", "127.0.0.1:0", "--sync", ""}, "--sync"},
		{[]string{"--cpuprofile", "", "check", data}, "--cpuprofile"},
		// A list flag: no element, as if not given (refused from
		// 2026-12-07; without the refusal the run gets to the missing
		// --token-file instead).
		{[]string{"serve", "--addr", "127.0.0.1:0", "--token-file", filepath.Join(t.TempDir(), "none"), "--allowed-hosts", ""}, "--allowed-hosts"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCLI(t, tc.args...).mustCode(t, exitUsage)
			if want := tc.flag + ` "": an empty value`; !strings.Contains(r.stderr, want) || r.stdout != "" {
				t.Errorf("stderr %q (stdout %q), want %q", r.stderr, r.stdout, want)
			}
		})
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused replay made %s (stat: %v)", out, err)
	}
	// A value given is taken as ever.
	runCLI(t, "replay", data, "--out", out, "--to-lsn", "1").mustCode(t, exitOK)
}
