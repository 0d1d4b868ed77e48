// Package ci tests the CI script .ci/run: every suite it expects must be
// present, and a missing one fails CI instead of being skipped.
package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// runSuites runs `.ci/run suites` (only the presence check) in root.
func runSuites(t *testing.T, root string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	cmd := exec.Command("bash", filepath.Join(root, ".ci", "run"), "suites")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestRepoHasEverySuite: the suites .ci/run expects exist in this tree.
func TestRepoHasEverySuite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds test binaries; skipped in -short")
	}
	if out, err := runSuites(t, repoRoot(t)); err != nil {
		t.Fatalf(".ci/run suites: %v\n%s", err, out)
	}
}

// fakeTree is a minimal module holding every suite .ci/run expects.
func fakeTree() map[string]string {
	return map[string]string{
		"go.mod": "module example.com/fake\n\ngo 1.22\n",
		"tests/crash/crash_test.go": "//go:build crash\n\npackage crash\n\nimport \"testing\"\n\n" +
			"func TestCrash(t *testing.T) {}\nfunc TestCrashCatchesEarlyAck(t *testing.T) {}\nfunc TestRequireVerified(t *testing.T) {}\n",
		"tests/stress/stress_test.go": "//go:build stress\n\npackage stress\n\nimport \"testing\"\n\n" +
			"func TestThroughput(t *testing.T) {}\nfunc TestMemory(t *testing.T) {}\n" +
			"func TestStability(t *testing.T) {}\nfunc TestStabilityControl(t *testing.T) {}\n",
		"fake.go": "package fake\n",
		"api_test.go": "package fake\n\nimport \"testing\"\n\nfunc TestAPI(t *testing.T) {}\n" +
			"func TestSharedTorture(t *testing.T) {}\nfunc TestSharedWriterKilled(t *testing.T) {}\nfunc TestSharedChildMustRun(t *testing.T) {}\n",
		"shared_stress_test.go": "//go:build stress\n\npackage fake\n\nimport \"testing\"\n\nfunc TestSharedTortureLong(t *testing.T) {}\n",
		"internal/page/shm_test.go": "package page\n\nimport \"testing\"\n\n" +
			"func TestSeqlockNegativeControl(t *testing.T) {}\nfunc FuzzDecodeShmHeader(f *testing.F) {}\n",
		"perf_test.go": "package fake\n\nimport \"testing\"\n\n" +
			"func TestPropertyMemoryPolicyKeepsState(t *testing.T) {}\nfunc TestPropertyParallelApplyEqualsSerial(t *testing.T) {}\n" +
			"func TestInMemoryBusHoldsOneCheckpoint(t *testing.T) {}\nfunc TestCheckpointWhileCommitting(t *testing.T) {}\n",
		"internal/page/prefault_test.go": "package page\n\nimport \"testing\"\n\nfunc TestPrefaultMakesChunkResident(t *testing.T) {}\n",
		"cmd/mmsb/bench_test.go": "package main\n\nimport \"testing\"\n\n" +
			"func TestBenchGrowth(t *testing.T) {}\nfunc TestBenchStallTrace(t *testing.T) {}\n",
		"examples/compiler-ir/main.go": "package main\n\nfunc main() {}\n",
		"examples/compiler-ir/main_test.go": "package main\n\nimport \"testing\"\n\n" +
			"func TestIncrementalEqualsFull(t *testing.T) {}\nfunc TestCheckerCatchesFaults(t *testing.T) {}\nfunc FuzzParse(f *testing.F) {}\n",
		"examples/game-ai/main.go": "package main\n\nfunc main() {}\n",
		"examples/game-ai/main_test.go": "package main\n\nimport \"testing\"\n\n" +
			"func TestIncrementalEqualsFull(t *testing.T) {}\nfunc TestCheckerCatchesFaults(t *testing.T) {}\nfunc TestReplayDeterminism(t *testing.T) {}\n",
		"cmd/mmsb/main.go": "package main\n\nimport \"os\"\n\n" +
			"func main() {\n\tif len(os.Args) > 1 && os.Args[1] == \"validate\" {\n\t\tos.Exit(0)\n\t}\n\tos.Exit(1)\n}\n",
	}
}

// TestMissingSuiteFailsCI: each way a suite can go missing makes .ci/run
// fail and name it. The old script skipped the crash suite when its
// directory was missing and the validation harness when a grep for
// "validate" found nothing, and a build tag that no longer matched ran
// zero tests ("no test files", exit 0).
func TestMissingSuiteFailsCI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds test binaries; skipped in -short")
	}
	script, err := os.ReadFile(filepath.Join(repoRoot(t), ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(files map[string]string)
		want   string // what the failure must name; "" means CI must pass
	}{
		{"complete", func(map[string]string) {}, ""},
		{"crash suite directory missing", func(f map[string]string) { delete(f, "tests/crash/crash_test.go") }, "tests/crash"},
		{"crash build tag changed", func(f map[string]string) {
			f["tests/crash/crash_test.go"] = strings.Replace(f["tests/crash/crash_test.go"], "go:build crash", "go:build crashsuite", 1)
		}, "tests/crash"},
		{"crash test renamed", func(f map[string]string) {
			f["tests/crash/crash_test.go"] = strings.Replace(f["tests/crash/crash_test.go"], "func TestCrash(", "func TestCrashes(", 1)
		}, "TestCrash in tests/crash"},
		{"crash negative control gone", func(f map[string]string) {
			f["tests/crash/crash_test.go"] = strings.Replace(f["tests/crash/crash_test.go"], "func TestCrashCatchesEarlyAck(t *testing.T) {}\n", "", 1)
		}, "TestCrashCatchesEarlyAck"},
		{"API check missing", func(f map[string]string) { delete(f, "api_test.go") }, "TestAPI in ."},
		{"shared torture missing", func(f map[string]string) {
			f["api_test.go"] = strings.Replace(f["api_test.go"], "func TestSharedTorture(", "func TestSharedTortureX(", 1)
		}, "TestSharedTorture in ."},
		{"long shared torture missing", func(f map[string]string) { delete(f, "shared_stress_test.go") }, "TestSharedTortureLong in . with build tag stress"},
		{"shared header fuzz target missing", func(f map[string]string) {
			f["internal/page/shm_test.go"] = strings.Replace(f["internal/page/shm_test.go"], "func FuzzDecodeShmHeader(", "func FuzzOther(", 1)
		}, "FuzzDecodeShmHeader in internal/page"},
		{"stress suite missing", func(f map[string]string) { delete(f, "tests/stress/stress_test.go") }, "tests/stress"},
		{"validate subcommand missing", func(f map[string]string) {
			f["cmd/mmsb/main.go"] = "package main\n\nimport \"os\"\n\nfunc main() { os.Exit(1) }\n"
		}, "the validate subcommand"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			files := fakeTree()
			files[".ci/run"] = string(script)
			c.change(files)
			for name, body := range files {
				p := filepath.Join(root, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			out, err := runSuites(t, root)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("complete tree failed: %v\n%s", err, out)
			case c.want != "" && err == nil:
				t.Fatalf("CI passed with a suite missing:\n%s", out)
			case c.want != "" && !strings.Contains(out, "expected suite missing: "+c.want):
				t.Fatalf("output does not name the missing suite %q:\n%s", c.want, out)
			}
		})
	}
}
