package main

import (
	"strings"
	"testing"
)

// Each bad serve limit is refused before the server starts, naming the
// flag and the value (one message listed every constraint at once), and
// limits past their upper bound are refused too: --watch-queue 10^12
// was accepted and made the first watcher's queue of 10^12 entries.
func TestServeLimitsNamed(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--max-request-bytes", "0"}, "--max-request-bytes must be in 1..1073741824, got 0"},
		{[]string{"--max-request-bytes", "99999999999999"}, "--max-request-bytes must be in 1..1073741824, got 99999999999999"},
		{[]string{"--max-streams", "0"}, "--max-streams must be in 1..65536, got 0"},
		{[]string{"--watch-queue", "-1"}, "--watch-queue must be in 1..65536, got -1"},
		{[]string{"--watch-queue", "999999999999"}, "--watch-queue must be in 1..65536, got 999999999999"},
		{[]string{"--max-watchers", "0"}, "--max-watchers must be in 1..1048576, got 0"},
		{[]string{"--max-watchers", "99999999"}, "--max-watchers must be in 1..1048576, got 99999999"},
		{[]string{"--max-asof-reads", "0"}, "--max-asof-reads must be in 1..1024, got 0"},
		{[]string{"--max-log-queries", "0"}, "--max-log-queries must be in 1..1024, got 0"},
		{[]string{"--max-log-queries", "1025"}, "--max-log-queries must be in 1..1024, got 1025"},
		{[]string{"--ticks", "-1s"}, "--ticks must not be negative, got -1s"},
		{[]string{"--timeout", "-1s"}, "--timeout must not be negative, got -1s"},
		{[]string{"--shutdown-timeout", "-2s"}, "--shutdown-timeout must not be negative, got -2s"},
		{[]string{"--gzip-min-bytes", "-1"}, "--gzip-min-bytes must not be negative, got -1"},
		{[]string{"--max-conns", "0"}, "--max-conns must be in 1..1048576, got 0"},
		{[]string{"--max-conns-per-client", "-1"}, "--max-conns-per-client must be in 0..1048576 (0: no per-client bound), got -1"},
		{[]string{"--max-requests", "0"}, "--max-requests must be in 1..1048576, got 0"},
		{[]string{"--max-requests-per-client", "2000000"}, "--max-requests-per-client must be in 0..1048576 (0: no per-client bound), got 2000000"},
		{[]string{"--allowed-hosts", "dev.example:7070"}, `--allowed-hosts entry "dev.example:7070" is no host name`},
	}
	for _, tc := range tests {
		r := runCLI(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want exit %d naming %q", tc.args, r.code, r.stderr, exitUsage, tc.want)
		}
	}
}
