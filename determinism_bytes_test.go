package mmsb

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// TestFilesIdenticalAcrossWorkersAndProcs: the bus's files are a function
// of the operations alone. The same seeded history (creates of several
// sizes, frees, batches large enough for the pipelined apply path, a
// refused batch now and then, bindings, waves with one or two failing
// functions, a checkpoint midway, a reopen that recovers from it and the
// log tail followed by a resync wave, and a checkpoint at the end) is run
// with GOMAXPROCS 1 and 2 and 1, 2 and 4 apply workers, without and with
// a Replicator: every file the bus leaves (log segments, checkpoints) is
// byte for byte the first run's, and so are the errors, the waves'
// results and the state hash after every step; with a Replicator, so is
// every record handed to it. Worker count, scheduling or a map's order
// that reached the log's order, a record's bytes, the checkpoint's layout
// or the replication stream would show here.
func TestFilesIdenticalAcrossWorkersAndProcs(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(prev)
	var first, firstRep *determinismRun
	var firstName, firstRepName string
	for _, replicated := range []bool{false, true} {
		for _, procs := range []int{1, 2} {
			for _, workers := range []int{1, 2, 4} {
				name := fmt.Sprintf("GOMAXPROCS %d, %d worker(s)", procs, workers)
				if replicated {
					name += ", replicated"
				}
				runtime.GOMAXPROCS(procs)
				got := runDeterminismHistory(t, workers, replicated)
				runtime.GOMAXPROCS(prev)
				if first == nil {
					if got.refused == 0 || got.twoFailed == 0 || got.checkpoints < 2 || got.segments < 2 {
						t.Fatalf("%s: history too tame to compare: %d refused batches, %d waves with two failures, %d checkpoints, %d log segments",
							name, got.refused, got.twoFailed, got.checkpoints, got.segments)
					}
					first, firstName = got, name
					continue
				}
				// A Replicator changes how batches are applied (never
				// pipelined), not what is logged: the files are the
				// first run's too.
				compareDeterminismRuns(t, name, got, firstName, first)
				if !replicated {
					continue
				}
				if firstRep == nil {
					if len(got.stream) == 0 {
						t.Fatalf("%s: nothing replicated", name)
					}
					firstRep, firstRepName = got, name
					continue
				}
				if !slices.Equal(got.stream, firstRep.stream) {
					for i := range min(len(got.stream), len(firstRep.stream)) {
						if got.stream[i] != firstRep.stream[i] {
							t.Fatalf("%s: replicated record %d differs from %s's", name, i, firstRepName)
						}
					}
					t.Fatalf("%s: %d records replicated, %s: %d", name, len(got.stream), firstRepName, len(firstRep.stream))
				}
			}
		}
	}
}

// compareDeterminismRuns fails t unless run got (named name) took the
// same steps and left the same files as run want (named wantName).
func compareDeterminismRuns(t *testing.T, name string, got *determinismRun, wantName string, want *determinismRun) {
	t.Helper()
	if !slices.Equal(got.steps, want.steps) {
		for i := range min(len(got.steps), len(want.steps)) {
			if got.steps[i] != want.steps[i] {
				t.Fatalf("%s: step %d: %s\n%s: %s", name, i, got.steps[i], wantName, want.steps[i])
			}
		}
		t.Fatalf("%s: %d steps, %s: %d", name, len(got.steps), wantName, len(want.steps))
	}
	if !slices.Equal(got.names, want.names) {
		t.Fatalf("%s: files %v\n%s: files %v", name, got.names, wantName, want.names)
	}
	for i, n := range got.names {
		if a, b := got.files[i], want.files[i]; !bytes.Equal(a, b) {
			at := 0
			for at < min(len(a), len(b)) && a[at] == b[at] {
				at++
			}
			t.Errorf("%s: %s (%d bytes) differs from %s's (%d bytes) from byte %d", name, n, len(a), wantName, len(b), at)
		}
	}
}

// determinismRun is what one run of runDeterminismHistory left.
type determinismRun struct {
	steps       []string // per step: its error, wave result and state hash
	names       []string // files under the bus's directory, sorted
	files       [][]byte // their bytes
	refused     int      // batches refused
	twoFailed   int      // waves where two functions failed
	checkpoints int
	segments    int
	stream      []string // with a Replicator: each record handed to it
}

// runDeterminismHistory runs the fixed history on a new bus in a
// directory with workers apply workers (and, if replicated, a
// Replicator that keeps every record) and returns what it left.
func runDeterminismHistory(t *testing.T, workers int, replicated bool) *determinismRun {
	t.Helper()
	dir := t.TempDir()
	var failing atomic.Bool
	rep := &fakeReplicator{}
	open := func() *Bus {
		o := &Options{
			Functions:       partialFuncs(&failing),
			Workers:         workers,
			Sync:            SyncNone,
			SegmentBytes:    64 << 10, // several segments
			CheckpointBytes: -1,       // checkpoints only where the history takes them
		}
		if replicated {
			o.Replicator = rep
		}
		return openT(t, dir, o)
	}
	e := open()
	defer func() { e.Close() }()
	out := &determinismRun{}
	step := func(format string, args ...any) {
		out.steps = append(out.steps, fmt.Sprintf(format, args...)+fmt.Sprintf(" hash=%x", hashOf(t, e)))
	}
	rng := rand.New(rand.NewPCG(5, 17))
	// Plain pages written by the batches, and a graph of derived ones over
	// the first few: chains and joins, with a function that fails while
	// failing is set and one that fails on a source starting with 0xff.
	plain := mustCreate(t, e, 700, 64)
	ids := mustCreate(t, e, 12, 8)
	src := ids[:4]
	bindPartialGraph(t, e, ids)
	step("setup")
	for round := range 16 {
		// Creates of several sizes (one past a small page's chunk) and frees.
		specs := []PageSpec{{Size: 1 + rng.IntN(300)}, {Size: 64}, {Size: 5000 + rng.IntN(5000)}}
		created, err := e.CreatePages(ctx, specs)
		step("round %d: create %v: %v", round, created, err)
		plain = append(plain, created...)
		for range 3 {
			k := rng.IntN(len(plain))
			err := e.FreePage(ctx, plain[k])
			step("round %d: free %d: %v", round, plain[k], err)
			plain = slices.Delete(plain, k, k+1)
		}
		// A batch big enough for the pipelined path, on few hot pages so
		// that pages take many deltas; every fourth round two deltas are
		// out of range and the whole batch must be refused, naming the
		// first of them whichever worker checked which.
		n := parallelMin + rng.IntN(3*chunkDeltas)
		hot := 1 + rng.IntN(len(plain))
		ds := make([]delta.Delta, n)
		for i := range ds {
			id := plain[rng.IntN(hot)]
			ds[i] = w(id, rng.IntN(56), string([]byte{byte(round), byte(i), byte(i >> 8), byte(rng.Uint32())}))
		}
		if round%4 == 3 {
			ds[rng.IntN(n/2)] = w(plain[0], 1<<20, "x")
			ds[n/2+rng.IntN(n-n/2)] = w(plain[1], 1<<20, "y")
		}
		info, err := e.Commit(ctx, ds)
		if err != nil {
			out.refused++
		}
		step("round %d: batch of %d: lsn %d..%d: %v", round, n, info.FirstLSN, info.LastLSN, err)
		// The sources, then a wave: failing is set two rounds in three,
		// and some sources start with 0xff (test.nan fails on them).
		failing.Store(round%3 != 2)
		for i, id := range src {
			v := byte(round*4 + i)
			if (round+i)%5 == 0 {
				v = 0xff
			}
			mustCommit(t, e, id, string([]byte{v, v, v}))
		}
		r, err := e.Propagate(ctx)
		if len(r.Failed) == 2 {
			out.twoFailed++
		}
		step("round %d: wave: %v: roots %d visited %d recomputed %d cutoffs %d lsn %d..%d writes %v held %d failed %v",
			round, err, r.Roots, r.Visited, r.Recomputed, r.Cutoffs, r.FirstLSN, r.LastLSN, r.Writes, r.HeldBack, r.Failed)
		switch round {
		case 7:
			ci, err := e.Checkpoint(ctx)
			step("round %d: checkpoint at %d: %v", round, ci.LSN, err)
		case 11:
			// Recovery from the checkpoint and the log tail, then a
			// resync: its wave starts from every binding's parents.
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = open()
			e.ScheduleResync()
			step("round %d: reopened at %d", round, e.LastLSN())
		}
	}
	ci, err := e.Checkpoint(ctx)
	step("checkpoint at %d: %v", ci.LSN, err)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(rel, "wal/"):
			out.segments++
		case strings.HasSuffix(rel, ".ckpt"):
			out.checkpoints++
		}
		out.names = append(out.names, rel)
		out.files = append(out.files, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.records() {
		out.stream = append(out.stream, fmt.Sprintf("%d..%d %x %x", r.FirstLSN, r.LastLSN, r.StateHash, r.Payload))
	}
	return out
}
