package main

import (
	"os"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

func TestCheckpointCommand(t *testing.T) {
	tb := newTestBus(t)
	r := runCLI(t, "checkpoint", "--json", tb.dir).mustCode(t, exitOK)
	var res checkpointResult
	r.decodeJSON(t, &res)
	if res.LSN != uint64(tb.lastLSN) || res.Pages != 5 || res.Bytes <= 0 || !strings.HasPrefix(res.Path, tb.dir) {
		t.Fatalf("%+v, want LSN %d", res, tb.lastLSN)
	}
	st, err := os.Stat(res.Path)
	if err != nil || st.Size() != res.Bytes {
		t.Fatalf("checkpoint file %s: %v (size %d, reported %d)", res.Path, err, st.Size(), res.Bytes)
	}
	// A second one makes two retained checkpoints, so the log they both
	// cover can go; the state is unchanged.
	r = runCLI(t, "checkpoint", tb.dir).mustCode(t, exitOK)
	for _, want := range []string{"checkpoint ", "LSN ", "segments removed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	runCLI(t, "check", tb.dir).mustCode(t, exitOK)
	bus, err := mmsb.Open(tb.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	if hashOf(t, bus) != tb.finalHash || bus.LastLSN() != tb.lastLSN {
		t.Fatal("checkpoint changed the state")
	}
}

func TestCheckpointLocked(t *testing.T) {
	tb := newTestBus(t)
	bus, err := mmsb.Open(tb.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	r := runCLI(t, "checkpoint", tb.dir).mustCode(t, exitFailure)
	for _, want := range []string{tb.dir + " is in use", "write lock"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %q", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("stdout: %q", r.stdout)
	}
}
