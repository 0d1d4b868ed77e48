package main

import (
	"strings"
	"testing"
)

// TestServeLogsWhatRecoveryDid: `mmsb serve` restarted on a directory whose
// last record is torn and whose newest checkpoint is damaged recovered (as
// documented: the tail cut, the older checkpoint and the log used) and
// logged nothing of either, so that an operator restarting it after a
// crash or on a failing disk learnt nothing. It logs a warning for each,
// naming the file, and serves.
func TestServeLogsWhatRecoveryDid(t *testing.T) {
	dir, newest := damagedNewestCheckpoint(t)
	last := tearLastRecord(t, dir)

	_, stderr, stop := startServe(t, "--dir", dir, "--addr", "127.0.0.1:0")
	stop()
	out := stderr.String()
	for _, want := range []string{"recovery truncated a torn tail", last, "recovery passed over a checkpoint that does not load", newest} {
		if !strings.Contains(out, want) {
			t.Errorf("serve's log lacks %q:\n%s", want, out)
		}
	}
}
