package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestUnpacedRunSaysSo: with --realtime=false the ticks run back to back,
// and the table says so; it said "N ticks at 60 Hz" whatever the flag.
// The command runs in a child (small flags) as a user runs it; --json
// reports the pacing too.
func TestUnpacedRunSaysSo(t *testing.T) {
	small := []string{"--grid", "16", "--ticks", "2", "--agents", "0", "--realtime=false"}
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, small...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("game-ai %s: %v\n%s", strings.Join(small, " "), err, out)
	}
	if strings.Contains(string(out), "at 60 Hz,") || !strings.Contains(string(out), "2 ticks back to back (--realtime=false") {
		t.Errorf("game-ai --realtime=false, output:\n%s\nwant \"2 ticks back to back (--realtime=false ...\", not \"at 60 Hz\"", out)
	}
	paced := &report{Ticks: 2, Realtime: true}
	if got := paced.pacing(); got != "at 60 Hz" {
		t.Errorf("paced run: %q, want \"at 60 Hz\"", got)
	}
}
