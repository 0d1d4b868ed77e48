package main

import (
	"math/rand/v2"
	"os"
	"path/filepath"
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

// TestCheckpointCommandUnpaced: the command writes its checkpoint at the
// device's speed by default (nothing commits while it holds the
// directory: a bus's pacing, 64 MiB/s by default, only made a 1 GiB
// checkpoint take 15 s instead of 2), and --rate paces it. The control is
// the paced run: paced_sec must be positive there, so a zero is not a
// field that is never set. A rate below the minimum is a usage error
// that opens nothing.
func TestCheckpointCommandUnpaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// About 0.9 MB of varied bytes: over three of the writer's 256 KiB
	// buffers, so that 1 MiB/s must sleep.
	specs := make([]mmsb.PageSpec, 900)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 1024}
	}
	ids, err := bus.CreatePages(t.Context(), specs)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ds := make([]mmsb.Delta, len(ids))
	for i, id := range ids {
		data := make([]byte, 1024)
		for k := range data {
			data[k] = byte(rng.Uint32())
		}
		ds[i] = mmsb.Write(id, 0, data)
	}
	if _, err := bus.Commit(t.Context(), ds); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args  []string
		paced bool
	}{
		{nil, false},
		{[]string{"--rate", "-1"}, false},
		{[]string{"--rate", "1048576"}, true},
	} {
		r := runCLI(t, append(append([]string{"checkpoint", "--json"}, c.args...), dir)...).mustCode(t, exitOK)
		var res checkpointResult
		r.decodeJSON(t, &res)
		if res.Bytes < 3*256<<10 || (res.PacedSec > 0) != c.paced {
			t.Errorf("checkpoint %v: %d bytes, paced %.3f s; want paced %v", c.args, res.Bytes, res.PacedSec, c.paced)
		}
	}
	r := runCLI(t, "checkpoint", "--rate", "1000", dir).mustCode(t, exitUsage)
	if !strings.Contains(r.stderr, "--rate 1000: a limit must be at least 1048576 bytes a second") {
		t.Errorf("stderr: %q", r.stderr)
	}
}

// TestCheckpointCommandSaysWhyNoSegmentGoes: a log segment goes only once
// the older of the two newest checkpoints covers it, so a directory with
// one checkpoint keeps its whole log, and running the command again
// without commits in between writes the same checkpoint again. The
// command says so on stderr, and not once a second checkpoint exists.
func TestCheckpointCommandSaysWhyNoSegmentGoes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	create := func() {
		t.Helper()
		bus, err := mmsb.Open(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bus.CreatePages(t.Context(), []mmsb.PageSpec{{Size: 8}}); err != nil {
			t.Fatal(err)
		}
		if err := bus.Close(); err != nil {
			t.Fatal(err)
		}
	}
	create()
	const note = "holds one checkpoint"
	for _, args := range [][]string{{"checkpoint", dir}, {"checkpoint", "--json", dir}} {
		r := runCLI(t, args...).mustCode(t, exitOK)
		if !strings.Contains(r.stderr, note) || !strings.Contains(r.stdout, "segments") {
			t.Fatalf("one checkpoint, %v: stdout %q, stderr %q", args, r.stdout, r.stderr)
		}
	}
	create()
	r := runCLI(t, "checkpoint", dir).mustCode(t, exitOK)
	if strings.Contains(r.stderr, note) {
		t.Fatalf("two checkpoints: stderr %q", r.stderr)
	}
	if got := checkpointLSNs(filepath.Join(dir, "checkpoints")); len(got) != 2 {
		t.Fatalf("checkpoints at LSNs %v, want two", got)
	}
}
