package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestTargetsRefuseMissingOrUnknownThresholds: every gate of every
// registered benchmark (the rows come from the registry), left out or
// misspelt, and every quick_ size left out, is refused naming the
// benchmark and the threshold. Before, a renamed max_bytes_differing
// failed #1 with "target <= NaN bytes" (exit 1, as if the bus had
// diverged), the misspelt name was accepted, and a removed quick_cycles
// ran --quick at the full size.
func TestTargetsRefuseMissingOrUnknownThresholds(t *testing.T) {
	if _, err := ParseTargets(DefaultTargets()); err != nil {
		t.Fatalf("the published targets refused (control): %v", err)
	}
	rows := 0
	for _, b := range All() {
		if len(b.Gates) == 0 {
			t.Errorf("%s declares no gate threshold", b.Key)
		}
		for _, g := range b.Gates {
			rows++
			_, err := ParseTargets(targetsWith(t, b.Key, map[string]any{g: nil}))
			want := fmt.Sprintf("%s: threshold %q missing", b.Key, g)
			if !errors.Is(err, ErrTargets) || !strings.Contains(fmt.Sprint(err), want) {
				t.Errorf("%s without %s: got %v, want an ErrTargets saying %q", b.Key, g, err, want)
			}
			v := publishedThresholds(t, b.Key)[g]
			_, err = ParseTargets(targetsWith(t, b.Key, map[string]any{g: nil, g + "s": v}))
			want = fmt.Sprintf("%s: unknown threshold %q", b.Key, g+"s")
			if !errors.Is(err, ErrTargets) || !strings.Contains(fmt.Sprint(err), want) {
				t.Errorf("%s with %s misspelt: got %v, want an ErrTargets saying %q", b.Key, g, err, want)
			}
		}
		for _, s := range b.Sizes {
			if !s.Quick {
				continue
			}
			rows++
			_, err := ParseTargets(targetsWith(t, b.Key, map[string]any{"quick_" + s.Name: nil}))
			want := fmt.Sprintf("%s: size %q missing", b.Key, "quick_"+s.Name)
			if !errors.Is(err, ErrTargets) || !strings.Contains(fmt.Sprint(err), want) {
				t.Errorf("%s without quick_%s: got %v, want an ErrTargets saying %q", b.Key, s.Name, err, want)
			}
		}
	}
	if rows < 19+8 {
		t.Fatalf("only %d rows: the registry lost gates or quick sizes", rows)
	}
	// A quick_ variant of a gate is read (Env.Threshold prefers it under
	// --quick), so it is accepted, and listed as a change.
	if _, err := ParseTargets(targetsWith(t, "replay", map[string]any{"quick_max_divergence": 1e-6})); err != nil {
		t.Errorf("quick_max_divergence refused: %v", err)
	}
}

// publishedThresholds returns the published thresholds of key.
func publishedThresholds(t *testing.T, key string) map[string]float64 {
	t.Helper()
	tg, err := ParseTargets(DefaultTargets())
	if err != nil {
		t.Fatal(err)
	}
	return tg.Entry(key).Thresholds
}

// TestUndeclaredThresholdReadFails: a benchmark that reads a threshold it
// does not declare fails the run naming it, since nothing checked that
// its entry holds it (NaN compares false with everything): read by its
// Run, or by its Limits (which the entry's check runs; that read went
// unnoticed by every test).
func TestUndeclaredThresholdReadFails(t *testing.T) {
	readInLimits := func(size func(string) float64) error {
		_ = size("max_anything")
		return nil
	}
	for _, tc := range []struct {
		name     string
		optional []Size
		limits   func(func(string) float64) error
		fails    bool
	}{
		{"declared (control)", []Size{{"max_anything", 10, false}}, nil, false},
		{"undeclared", nil, nil, true},
		{"declared, read by Limits (control)", []Size{{"max_anything", 10, false}}, readInLimits, false},
		{"undeclared, read by Limits", nil, readInLimits, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			remove, err := Inject(Benchmark{ID: 51, Key: "reader", Name: "Reader", OptionalSizes: tc.optional, Limits: tc.limits,
				Run: func(_ context.Context, env *Env, r *Result) error {
					if tc.limits == nil {
						_ = env.Threshold("max_anything")
					}
					r.Semantic("ran", true, 1, "1")
					return nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer remove()
			const want = `reads thresholds it does not declare in Sizes, OptionalSizes or Gates: max_anything`
			// A read by Limits fails the targets' check (the embedded
			// ones, loaded with the benchmark registered); one by Run
			// fails the run.
			tg, err := LoadTargets("")
			if tc.limits != nil && tc.fails {
				if !errors.Is(err, ErrTargets) || !strings.Contains(fmt.Sprint(err), want) {
					t.Fatalf("LoadTargets = %v; want an ErrTargets saying %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rep := mustRun(t, bg, Config{Quick: true}, tg, []int{51})
			res := rep.Results[0]
			said := strings.Contains(res.Error, want)
			if res.Pass == tc.fails || said != tc.fails {
				t.Fatalf("pass %v, error %q; want it to fail naming max_anything: %v", res.Pass, res.Error, tc.fails)
			}
		})
	}
}

// TestTargetsRefuseWrongID: an entry's id is its benchmark's: the table
// prints it, and two entries with id 7 (or replay's under #7) were
// accepted.
func TestTargetsRefuseWrongID(t *testing.T) {
	var raw map[string]any
	if err := json.Unmarshal(DefaultTargets(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, b := range raw["benchmarks"].([]any) {
		if e := b.(map[string]any); e["key"] == "replay" {
			e["id"] = 7.0
		}
	}
	b, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := `entry "replay" has id 7: benchmark "replay" is #1`
	if _, err := ParseTargets(b); !errors.Is(err, ErrTargets) || !strings.Contains(fmt.Sprint(err), want) {
		t.Fatalf("got %v, want an ErrTargets saying %q", err, want)
	}
}
