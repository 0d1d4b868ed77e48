package main

import (
	"context"
	"testing"
)

// TestSweepMeasuresEachCountOnce: two swept fractions that round to the
// same number of functions (0.02% and 0.1% of 10: 1) are one point of the
// sweep, not two rows with the same label (`--funcs 500 --edits 20`
// printed "0.20%  1" twice). The fraction after them (50%: 5) is still
// swept.
func TestSweepMeasuresEachCountOnce(t *testing.T) {
	rep, err := run(context.Background(), config{Seed: 1, Funcs: 10, Edits: 0, Repeats: 1, Fractions: []float64{0.0002, 0.001, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	var edited []int
	for _, sp := range rep.Sweep {
		edited = append(edited, sp.Edited)
	}
	if len(edited) != 2 || edited[0] != 1 || edited[1] != 5 {
		t.Fatalf("sweep points edit %v functions, want [1 5]", edited)
	}
}
