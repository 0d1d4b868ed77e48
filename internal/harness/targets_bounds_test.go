package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// targetsWith returns the published targets file with key's thresholds
// changed: a nil value removes the threshold.
func targetsWith(t *testing.T, key string, set map[string]any) []byte {
	t.Helper()
	var raw map[string]any
	if err := json.Unmarshal(DefaultTargets(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, b := range raw["benchmarks"].([]any) {
		e := b.(map[string]any)
		if e["key"] != key {
			continue
		}
		th := e["thresholds"].(map[string]any)
		for n, v := range set {
			if v == nil {
				delete(th, n)
			} else {
				th[n] = v
			}
		}
	}
	out, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTargetsRefuseHugeSizes: every size of every registered benchmark
// (the rows come from the registry, so a new size cannot be left out), and
// its quick_ variant, is refused one above its bound, with an error naming
// the benchmark, the size, its value and the bound; at its bound the size
// alone is not refused. A targets file with "sources": 1e12 (or a 1e12
// page count) was accepted and the run ran out of memory.
func TestTargetsRefuseHugeSizes(t *testing.T) {
	rows := 0
	for _, b := range All() {
		for _, s := range append(slices.Clone(b.Sizes), b.OptionalSizes...) {
			if !(s.Max >= 1) {
				t.Errorf("%s: size %q has no bound (%g)", b.Key, s.Name, s.Max)
				continue
			}
			for _, name := range []string{s.Name, "quick_" + s.Name} {
				rows++
				over := s.Max + 1
				_, err := ParseTargets(targetsWith(t, b.Key, map[string]any{name: over}))
				want := fmt.Sprintf("%s: size %q is %g, above its bound %g", b.Key, name, over, s.Max)
				if !errors.Is(err, ErrTargets) || !strings.Contains(fmt.Sprint(err), want) {
					t.Errorf("%s %s=%g: got %v, want an ErrTargets saying %q", b.Key, name, over, err, want)
				}
				_, err = ParseTargets(targetsWith(t, b.Key, map[string]any{name: s.Max}))
				if err != nil && strings.Contains(err.Error(), fmt.Sprintf("size %q", name)) {
					t.Errorf("%s %s=%g (its bound): refused: %v", b.Key, name, s.Max, err)
				}
			}
		}
	}
	if rows < 2*18 {
		t.Fatalf("only %d size rows: the registry lost sizes", rows)
	}
	// Targets built by hand skip ParseTargets: Run refuses them before the
	// benchmark allocates anything.
	tg, err := LoadTargets("")
	if err != nil {
		t.Fatal(err)
	}
	for i := range tg.Benchmarks {
		if tg.Benchmarks[i].Key == "replay" {
			tg.Benchmarks[i].Thresholds["quick_sources"] = 1e12
		}
	}
	rep := mustRun(t, context.Background(), Config{Quick: true}, tg, []int{1})
	if rep.Total != 1 || rep.Passed != 0 || !strings.Contains(rep.Results[0].Error, `size "quick_sources" is 1e+12, above its bound 4096`) {
		t.Fatalf("#1 with 1e12 sources: %+v", rep.Results)
	}
}

// TestTargetsRefuseSizesThatDoNotFit: sizes each within its bound but
// impossible or too large together are refused naming them, in the full
// and in the quick sizes. Before, #5 with delta_size over page_size and #6
// with pages under 3 × derived failed with "panic: invalid argument to
// IntN", #7 with a page_size under 8 with "integer divide by zero", #3
// with 1 page failed cycle_refused (no edge can close a cycle) and with 1
// large page gated +Inf ms over an empty graph, and the products sized
// gigabytes of in-memory log.
func TestTargetsRefuseSizesThatDoNotFit(t *testing.T) {
	for _, tc := range []struct {
		key  string
		set  map[string]any
		want string
	}{
		{"throughput", map[string]any{"delta_size": 2048}, "throughput (full sizes): delta_size 2048 is over page_size 1024"},
		{"throughput", map[string]any{"page_size": 8, "delta_size": 16}, "delta_size 16 is over page_size 8"},
		{"throughput", map[string]any{"pages": 4 << 20, "page_size": 4096}, "pages 4.194304e+06 × page_size 4096 = 1.7179869184e+10 bytes of pages, above its bound 4.294967296e+09"},
		{"throughput", map[string]any{"batch": 1_000_000, "page_size": 1024, "delta_size": 1024}, "batch 1e+06 × delta_size 1024"},
		{"throughput", map[string]any{"quick_deltas": 100_000_000, "delta_size": 64}, "throughput (quick sizes): deltas 1e+08 × delta_size 64"},
		{"tick", map[string]any{"pages": 3000}, "pages 3000 is under 3 × derived 1000 + 1"},
		{"tick", map[string]any{"ticks": 100_000}, "ticks 100000 × deltas_per_tick 10000"},
		{"tick", map[string]any{"ticks": 100_000, "deltas_per_tick": 1, "derived": 1_000_000, "pages": 4_000_000}, "ticks 100000 × derived 1e+06"},
		{"memory", map[string]any{"page_size": 7}, "page_size 7 is under the 8-byte stamp"},
		{"memory", map[string]any{"quick_pages": 10_000_000, "page_size": 4096}, "memory (quick sizes): pages 1e+07 × page_size 4096"},
		{"graph", map[string]any{"pages": 1}, "graph (full sizes): pages 1 is under the 2 pages a cycle needs"},
		{"graph", map[string]any{"quick_large_pages": 1}, "graph (quick sizes): large_pages 1 is under the 2 pages a cycle needs"},
		{"provenance", map[string]any{"depth": 32}, "provenance (full sizes): depth 32 is not under max_depth 32"},
	} {
		_, err := ParseTargets(targetsWith(t, tc.key, tc.set))
		if !errors.Is(err, ErrTargets) || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%s %v: got %v, want %q", tc.key, tc.set, err, tc.want)
		}
	}
}

// TestEverySizeReadIsDeclared: every threshold a benchmark reads with
// Env.Int sizes work, so it must be a declared size of that benchmark
// (and so bounded); a size read but not declared would escape
// TestTargetsRefuseHugeSizes.
func TestEverySizeReadIsDeclared(t *testing.T) {
	files, err := filepath.Glob("bench_*.go")
	if err != nil {
		t.Fatal(err)
	}
	reg := regexp.MustCompile(`Key: "(\w+)"`)
	read := regexp.MustCompile(`env\.Int\("(\w+)"\)`)
	byKey := map[string]Benchmark{}
	for _, b := range All() {
		byKey[b.Key] = b
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := reg.FindSubmatch(src)
		if m == nil {
			continue
		}
		b := byKey[string(m[1])]
		for _, r := range read.FindAllSubmatch(src, -1) {
			checked++
			name := string(r[1])
			if !slices.ContainsFunc(append(slices.Clone(b.Sizes), b.OptionalSizes...), func(s Size) bool { return s.Name == name }) {
				t.Errorf("%s reads size %q with env.Int but does not declare it", f, name)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d env.Int reads found", checked)
	}
}

// TestLoadTargetsRefusesNonFiles: --targets naming a device, a FIFO, a
// directory or an oversized file is refused with ErrTargets instead of reading
// forever (/dev/zero) or into memory.
func TestLoadTargetsRefusesNonFiles(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(big, make([]byte, maxTargetsFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "not a regular file"},
		{fifo, "not a regular file"}, // opening it blocked until a writer came
		{t.TempDir(), "not a regular file"},
		{big, "is over 1048576 bytes"},
		{filepath.Join(t.TempDir(), "missing.json"), "no such file"},
	} {
		if tc.path == "/dev/zero" {
			if _, err := os.Stat(tc.path); err != nil {
				continue
			}
		}
		_, err := LoadTargets(tc.path)
		if !errors.Is(err, ErrTargets) || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.path, err, tc.want)
		}
	}
}

// TestTargetsRefuseBadEntries: a second entry for a benchmark (a loosened
// copy appended) was silently ignored, Entry reading the first; so was an
// entry whose key names no benchmark (a misspelt copy beside the right
// one).
func TestTargetsRefuseBadEntries(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(e map[string]any) // applied to a copy of the first entry, appended
		want string
	}{
		{"duplicate", func(map[string]any) {}, `benchmark "replay" has two entries`},
		{"unknown key", func(e map[string]any) { e["key"], e["id"] = "replya", 11.0 }, `entry "replya" names no benchmark`},
	} {
		var raw map[string]any
		if err := json.Unmarshal(DefaultTargets(), &raw); err != nil {
			t.Fatal(err)
		}
		bs := raw["benchmarks"].([]any)
		extra := map[string]any{}
		for k, v := range bs[0].(map[string]any) {
			extra[k] = v
		}
		tc.edit(extra)
		raw["benchmarks"] = append(bs, extra)
		b, err := json.Marshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseTargets(b); !errors.Is(err, ErrTargets) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.want)
		}
	}
}
