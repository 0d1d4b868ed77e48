package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// mustRun is Run for a Config the test knows to be valid.
func mustRun(t *testing.T, ctx context.Context, cfg Config, targets *Targets, only []int) *Report {
	t.Helper()
	rep, err := Run(ctx, cfg, targets, only)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestConfigValidate: Config.Validate is the one check of a run's
// settings, and Run refuses what it refuses before running anything. A Go
// caller's Workers of 1<<30 was bounded only by the CLI's flag check, and
// #5 started a bus of every worker count up to it.
func TestConfigValidate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // in the error; "" for a valid Config
	}{
		{"zero value", Config{}, ""},
		{"most workers", Config{Workers: mmsb.MaxWorkers}, ""},
		{"seed 0", Config{Seed: 0, Workers: 1}, ""},
		{"a directory", Config{Dir: t.TempDir()}, ""},
		{"negative workers", Config{Workers: -1}, "Workers -1: must be in 0..1024"},
		{"one worker too many", Config{Workers: mmsb.MaxWorkers + 1}, "Workers 1025: must be in 0..1024"},
		{"huge workers", Config{Workers: 1 << 30}, "Workers 1073741824: must be in 0..1024"},
		{"missing dir", Config{Dir: missing}, "Dir " + missing + ": stat " + missing},
		{"dir a file", Config{Dir: file}, "Dir " + file + ": not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v, want nil", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.Is(err, ErrConfig) || !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v, want a ConfigError naming %q", err, tc.want)
			}
			// Run refuses it too, and starts no benchmark.
			tg, lerr := LoadTargets("")
			if lerr != nil {
				t.Fatal(lerr)
			}
			cfg := tc.cfg
			started := 0
			cfg.Progress = func(int, string) { started++ }
			rep, err := Run(context.Background(), cfg, tg, []int{4})
			if !errors.Is(err, ErrConfig) || rep != nil || started != 0 {
				t.Fatalf("Run: report %v, error %v, %d benchmarks started; want ErrConfig and none", rep, err, started)
			}
		})
	}
}

// TestRunUsesSeedAsGiven: seed 0 is a seed like any other. Run replaced
// it by 1, so that `mmsb validate --seed 0` did the work of --seed 1 and
// said nothing. The seed a run used is in its report and history, and
// Workers 0 becomes the CPU count, never more than a bus takes.
func TestRunUsesSeedAsGiven(t *testing.T) {
	type seen struct {
		seed    uint64
		workers int
	}
	var got []seen
	remove, err := Inject(Benchmark{ID: 4242, Key: "seed-probe", Name: "Seed probe",
		Run: func(_ context.Context, env *Env, r *Result) error {
			got = append(got, seen{env.Seed, env.Workers})
			r.Semantic("ran", true, 1, "ran")
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer remove()
	tg, err := LoadTargets("")
	if err != nil {
		t.Fatal(err)
	}
	wantWorkers := min(runtime.NumCPU(), mmsb.MaxWorkers)
	for _, seed := range []uint64{0, 1, 1 << 63} {
		got = nil
		rep := mustRun(t, context.Background(), Config{Quick: true, Seed: seed}, tg, []int{4242})
		if len(got) != 1 || got[0] != (seen{seed, wantWorkers}) {
			t.Fatalf("seed %d: the benchmark saw %+v, want seed %d and %d workers", seed, got, seed, wantWorkers)
		}
		if rep.Seed != seed || rep.History().Seed != seed {
			t.Fatalf("seed %d: report says %d, history %d", seed, rep.Seed, rep.History().Seed)
		}
	}
}
