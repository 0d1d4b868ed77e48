package validate

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestProvenanceNotComparedWhenEverySampleSkipped: a sample whose last
// writer the log does not hold is skipped. Offline, the bus rebuilt from
// the directory keeps no log, so every sample was skipped, and the run
// reported a pass (checked 60, skipped 60) without comparing one answer
// with the log. Such a run is now "not compared"; live, where the log is
// there, the same bus is compared and passes.
func TestProvenanceNotComparedWhenEverySampleSkipped(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	defer e.Close()
	populate(t, e, 20, 6)
	for _, tc := range []struct {
		name     string
		target   Target
		want     Outcome
		skipped  bool // every sample skipped
		reasonIn string
	}{
		{"live", Live(e), OutcomePass, false, ""},
		{"offline", Offline(fs, busDir, nil), OutcomeNotCompared, true, "offline, the bus rebuilt from the directory keeps no log: none of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Provenance(ctx, tc.target, Options{Samples: -1, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Total != 0 {
				t.Fatalf("problems: %v", rep.Problems)
			}
			if rep.Checked == 0 {
				t.Fatal("no sample taken")
			}
			if got := rep.Skipped == rep.Checked; got != tc.skipped {
				t.Fatalf("checked %d, skipped %d: every sample skipped = %v, want %v", rep.Checked, rep.Skipped, got, tc.skipped)
			}
			if rep.Outcome() != tc.want {
				t.Fatalf("outcome %q, want %q (checked %d, skipped %d, not compared %q)", rep.Outcome(), tc.want, rep.Checked, rep.Skipped, rep.NotCompared)
			}
			if tc.want == OutcomeNotCompared {
				if !errors.Is(rep.Err(), ErrNotCompared) || !strings.Contains(rep.NotCompared, tc.reasonIn) {
					t.Fatalf("err %v, not compared %q", rep.Err(), rep.NotCompared)
				}
			}
		})
	}
}
