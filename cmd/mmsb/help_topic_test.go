package main

import (
	"strings"
	"testing"
)

// TestHelpUnknownTopicIsUsageError: `mmsb help TOPIC` for a TOPIC that is
// no command path is a usage error (exit 2, nothing on stdout). cobra's
// help command printed "Unknown help topic" and the root usage on stdout
// and exited 0, and showed the help of "replicate" for "replicate nope".
// Known topics still print their help and exit 0.
func TestHelpUnknownTopicIsUsageError(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string // in stdout for a topic, in stderr for a usage error
	}{
		{[]string{"help", "chekc"}, exitUsage, `no help topic "chekc"`},
		{[]string{"help", "replicate", "nope"}, exitUsage, `no help topic "replicate nope"`},
		{[]string{"help", "check", "extra"}, exitUsage, `no help topic "check extra"`},
		{[]string{"help"}, exitOK, "Available Commands"},
		{[]string{"help", "check"}, exitOK, "mmsb check DIR"},
		{[]string{"help", "replicate", "bench"}, exitOK, "mmsb replicate bench"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runCLI(t, tc.args...).mustCode(t, tc.code)
			got := r.stdout
			if tc.code != exitOK {
				got = r.stderr
				if r.stdout != "" {
					t.Errorf("a usage error printed on stdout:\n%s", r.stdout)
				}
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", tc.want, r.stdout, r.stderr)
			}
		})
	}
}
