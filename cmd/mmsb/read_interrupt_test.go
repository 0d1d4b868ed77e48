package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestReadingCommandsSayTheyWereInterrupted: inspect, graph and read,
// interrupted (SIGINT, SIGTERM) while they rebuild the state, exit 1 with
// an error saying so, print nothing on stdout, and do not send the user
// to `mmsb check` as if the directory were damaged: they said "replay DIR
// (run `mmsb check DIR` for every problem): context canceled". Each is
// interrupted after every number of looks at its context (interruptAfter)
// until one run finishes.
func TestReadingCommandsSayTheyWereInterrupted(t *testing.T) {
	tb := newTestBus(t)
	for _, args := range [][]string{
		{"inspect", tb.dir},
		{"inspect", "--json", tb.dir},
		{"graph", tb.dir},
		{"graph", "--dot", tb.dir},
		{"read", tb.dir, "--page", "2"},
		{"read", tb.dir, "--page", "2", "--at-lsn", "3"},
		// Not a reading command, but interrupted while it writes it said
		// "checkpoint DIR: mmsb: checkpoint: context canceled". (Its
		// name is why "mmsb check " above ends in a space.)
		{"checkpoint", tb.dir},
	} {
		t.Run(strings.Join(args[:len(args)-1], " "), func(t *testing.T) {
			interrupted := 0
			for n := int64(0); n < 200; n++ {
				ctx := newInterruptAfter(n)
				var out, errb bytes.Buffer
				code := run(ctx, append([]string{"--no-progress"}, args...), &out, &errb)
				name := fmt.Sprintf("interrupted after %d looks", n)
				if code == exitOK {
					if ctx.calls.Load() <= n {
						break // ran to the end without the interrupt
					}
					continue // the interrupt came after the last look that mattered
				}
				interrupted++
				msg := errb.String()
				if code != exitFailure || !strings.Contains(msg, "interrupted before it finished") || strings.Contains(msg, "mmsb check ") {
					t.Errorf("%s: exit status %d, stderr %q; want 1 and an error saying it was interrupted, sending no one to mmsb check", name, code, msg)
				}
				if out.Len() != 0 {
					t.Errorf("%s: an interrupted command printed:\n%s", name, out.String())
				}
			}
			if interrupted == 0 {
				t.Fatal("no run was interrupted: the test proves nothing")
			}
		})
	}
}
