package harness

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/internal/validate"
	"github.com/mmsb-go/mmsb/vfs"
)

func TestIntegrityQuick(t *testing.T) {
	env := testEnv(t, "integrity", nil)
	var r Result
	err := integrityBench(bg, env, &r, integrityConfig{deltas: 3000, seed: 3})
	requirePass(t, &r, err)
}

// TestIntegrityNegativeOrphan plants a validly framed delta to a page that
// never existed at the end of the log.
func TestIntegrityNegativeOrphan(t *testing.T) {
	env := testEnv(t, "integrity", nil)
	var r Result
	err := integrityBench(bg, env, &r, integrityConfig{deltas: 1000, seed: 3, tamper: func(fs vfs.FS, walDir string) error {
		_, err := AppendRawRecord(fs, walDir, 1, OrphanDeltaPayload(1<<40, 1))
		return err
	}})
	requireFail(t, &r, err, "orphans")
}

// TestIntegrityNegativeFlippedByte flips a bit of a record without fixing
// its CRC.
func TestIntegrityNegativeFlippedByte(t *testing.T) {
	env := testEnv(t, "integrity", nil)
	var r Result
	err := integrityBench(bg, env, &r, integrityConfig{deltas: 1000, seed: 3, tamper: func(fs vfs.FS, walDir string) error {
		_, err := FlipLogByte(fs, walDir)
		return err
	}})
	requireFail(t, &r, err, "problems")
}

// TestIntegrityHandWrittenLog writes a log with tlog directly (no engine):
// a page creation, a good delta, and an orphan delta; the validator the
// benchmark uses must name the orphan.
func TestIntegrityHandWrittenLog(t *testing.T) {
	fs := vfs.NewMem()
	log, _, err := tlog.Open(tlog.Options{FS: fs, Dir: "/bus/wal", Sync: tlog.SyncNone}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	create := record.AppendCreate(record.AppendHeader(nil, 1), 1, 64, 0, nil)
	good := OrphanDeltaPayload(1, 2) // page 1 exists: not an orphan
	orphan := OrphanDeltaPayload(99, 3)
	for i, p := range [][]byte{create, good, orphan} {
		if _, err := log.Append(mmsb.LSN(i+1), 1, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := validate.Integrity(context.Background(), validate.Offline(fs, "/bus", nil), validate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total == 0 || !strings.Contains(rep.Problems[0].String(), "99") {
		t.Fatalf("orphan delta not reported: %+v", rep)
	}
	if rep.Problems[0].LSN != 3 {
		t.Errorf("orphan reported at LSN %d, want 3", rep.Problems[0].LSN)
	}
}

// TestIntegrityNegativeKindSkipped: the workload never frees a page, so
// one kind of logged operation goes unexercised (and unvalidated); the log
// is clean, so only mixed_workload may fail. The clean run is
// TestIntegrityQuick.
func TestIntegrityNegativeKindSkipped(t *testing.T) {
	env := testEnv(t, "integrity", nil)
	var r Result
	err := integrityBench(bg, env, &r, integrityConfig{deltas: 3000, seed: 3, skip: "free"})
	requireOnlyFail(t, &r, err, "mixed_workload")
}

// TestIntegrityNegativePartialScan: with 4 KiB log segments the midway
// checkpoint removes the segments it covers, so the validator scans (and
// finds nothing wrong in) only the second half of the workload's log; only
// schema_coverage may fail.
func TestIntegrityNegativePartialScan(t *testing.T) {
	env := testEnv(t, "integrity", nil)
	var r Result
	err := integrityBench(bg, env, &r, integrityConfig{deltas: 3000, seed: 3, segmentBytes: 4 << 10})
	requireOnlyFail(t, &r, err, "schema_coverage")
	if c := checkNamed(t, &r, "schema_coverage"); c.Value >= 100 || c.Value <= 0 {
		t.Fatalf("coverage %v%%, want strictly between 0 and 100", c.Value)
	}
}

// TestIntegrityNegativeKindClaimedNotLogged: the workload skips one kind
// of operation but its own tally says it made them. mixed_workload must
// count the kinds the bus's log holds, not the harness's tally, so it
// fails, naming the kind, and only it fails (the log is clean). It used to
// count the tally and passed both: metadata changes were tallied, and edge
// removals were not among the kinds it required at all.
func TestIntegrityNegativeKindClaimedNotLogged(t *testing.T) {
	for _, kind := range []string{"meta", "unedge"} {
		t.Run(kind, func(t *testing.T) {
			env := testEnv(t, "integrity", nil)
			var r Result
			err := integrityBench(bg, env, &r, integrityConfig{deltas: 3000, seed: 3, skip: kind, claimSkipped: true})
			requireOnlyFail(t, &r, err, "mixed_workload")
			if c := checkNamed(t, &r, "mixed_workload"); !strings.Contains(c.Target, "missing: "+kind) {
				t.Fatalf("the missing kind is not named: %+v", c)
			}
			if r.Metrics["workload_"+kind] == 0 || r.Metrics["logged_"+kind] != 0 {
				t.Fatalf("tally %v, log %v: want a tally the log does not hold", r.Metrics["workload_"+kind], r.Metrics["logged_"+kind])
			}
		})
	}
}

// mixedKinds names every operation kind the log can hold (the integrity
// benchmark's mixed_workload requires each one in the log it scans): the
// wave op (kind 11) was missing when it was added, and the benchmark
// passed without showing that the validator met one.
func TestIntegrityMixedKindsNameEveryOpKind(t *testing.T) {
	names := map[mmsb.OpKind]string{mmsb.OpAddEdge: "edge", mmsb.OpRemoveEdge: "unedge"}
	n := 0
	for k := mmsb.OpDelta; !strings.HasPrefix(k.String(), "op("); k++ {
		name, ok := names[k]
		if !ok {
			name = k.String()
		}
		if !slices.Contains(mixedKinds, name) {
			t.Errorf("operation kind %d (%s) is not in mixedKinds %v", k, name, mixedKinds)
		}
		n++
	}
	if n < int(mmsb.OpWave) {
		t.Fatalf("%d operation kinds named, want at least %d", n, mmsb.OpWave)
	}
}
