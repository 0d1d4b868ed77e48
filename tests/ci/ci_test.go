// Package ci tests the CI script .ci/run: every suite it expects must be
// present, and a missing one fails CI instead of being skipped.
package ci

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
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
	// Without bash this skips, and fails under MMSB_REQUIRE_EXTERNAL=1
	// (CI): the check of CI's own script must not pass by skipping.
	testutil.LookPath(t, "bash")
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
			"func TestCrash(t *testing.T) {}\nfunc TestCrashCatchesEarlyAck(t *testing.T) {}\nfunc TestRequireVerified(t *testing.T) {}\n" +
			"func TestServerCrash(t *testing.T) {}\nfunc TestServerGracefulShutdown(t *testing.T) {}\n" +
			"func TestServerCrashCatchesMissingAck(t *testing.T) {}\nfunc TestCheckWatchEndControl(t *testing.T) {}\n",
		"tests/stress/stress_test.go": "//go:build stress\n\npackage stress\n\nimport \"testing\"\n\n" +
			"func TestThroughput(t *testing.T) {}\nfunc TestMemory(t *testing.T) {}\n" +
			"func TestStability(t *testing.T) {}\nfunc TestStabilityControl(t *testing.T) {}\nfunc TestEmptyWorkloadsFail(t *testing.T) {}\n",
		"fake.go": "package fake\n",
		"api_test.go": "package fake\n\nimport \"testing\"\n\nfunc TestAPI(t *testing.T) {}\n" +
			"func TestSharedTorture(t *testing.T) {}\nfunc TestSharedWriterKilled(t *testing.T) {}\nfunc TestSharedChildMustRun(t *testing.T) {}\n" +
			"func TestSharedReattach(t *testing.T) {}\nfunc TestSharedReadersCounted(t *testing.T) {}\n" +
			"func TestFollowerDetectsCorruptedPage(t *testing.T) {}\nfunc FuzzApplyReplicated(f *testing.F) {}\n",
		"internal/replicate/replicate_test.go": "package replicate\n\nimport \"testing\"\n\n" +
			"func TestLeaderAndFollowersConverge(t *testing.T) {}\nfunc TestFencingRejectsStaleLeader(t *testing.T) {}\n" +
			"func TestLeaseLossStopsLeader(t *testing.T) {}\nfunc TestQuorumLoss(t *testing.T) {}\n" +
			"func TestCatchUpStallsOnMissingTarget(t *testing.T) {}\nfunc TestCatchUpEndsWhenConsumerCannotBeRecreated(t *testing.T) {}\n" +
			"func TestReplicaChildMustRun(t *testing.T) {}\nfunc FuzzParseHeaders(f *testing.F) {}\n" +
			"func TestFollowerRunRetriesWhenStreamIsGone(t *testing.T) {}\nfunc TestFollowerRunRidesOutServerRestart(t *testing.T) {}\n",
		"internal/checkpoint/checkpoint_test.go": "package checkpoint\n\nimport \"testing\"\n\n" +
			"func TestDirectWrites(t *testing.T) {}\nfunc TestDirectRefusedFallsBack(t *testing.T) {}\n" +
			"func TestDirectWriteFailureLeavesNothing(t *testing.T) {}\nfunc TestWritebackIsBounded(t *testing.T) {}\n",
		"vfs/vfs_test.go": "package vfs\n\nimport \"testing\"\n\n" +
			"func TestSetDirect(t *testing.T) {}\nfunc TestScratchFilesHaveNoWritebackControl(t *testing.T) {}\n",
		"internal/replicate/proc_long_test.go": "//go:build replication\n\npackage replicate\n\nimport \"testing\"\n\n" +
			"func TestLeaderKilled(t *testing.T) {}\nfunc TestLeaderPaused(t *testing.T) {}\nfunc TestLeaderPausedFenced(t *testing.T) {}\n",
		"shared_stress_test.go": "//go:build stress\n\npackage fake\n\nimport \"testing\"\n\nfunc TestSharedTortureLong(t *testing.T) {}\n",
		"internal/page/shm_test.go": "package page\n\nimport \"testing\"\n\n" +
			"func TestSeqlockNegativeControl(t *testing.T) {}\nfunc FuzzDecodeShmHeader(f *testing.F) {}\nfunc FuzzShmRegion(f *testing.F) {}\n" +
			"func TestShmABIMatchesOtherReaders(t *testing.T) {}\nfunc TestShmABICheckCatchesDrift(t *testing.T) {}\n",
		"tests/bindings/bindings_test.go": "package bindings\n\nimport \"testing\"\n\n" +
			"func TestPythonReader(t *testing.T) {}\nfunc TestCReader(t *testing.T) {}\n" +
			"func TestPythonHarnessCatchesFailures(t *testing.T) {}\nfunc TestCHarnessCatchesFailures(t *testing.T) {}\n" +
			"func TestCHeadersCompileTogether(t *testing.T) {}\nfunc TestCHeadersClashCheckCatchesClash(t *testing.T) {}\n" +
			"func TestCReaderHeaderNamespace(t *testing.T) {}\nfunc TestCReaderHeaderNamespaceCheckCatchesForeignName(t *testing.T) {}\n",
		"python/tests/test_reader.py":   "def test_x():\n    pass\n",
		"bindings/c/test/reader_test.c": "int main(void) { return 0; }\n",
		"internal/server/server_test.go": "package server\n\nimport \"testing\"\n\n" +
			"func TestClientEndToEnd(t *testing.T) {}\nfunc TestRawJSON(t *testing.T) {}\nfunc TestBadInput(t *testing.T) {}\n" +
			"func TestCommitAtomic(t *testing.T) {}\nfunc FuzzCommitRequest(f *testing.F) {}\nfunc TestAuth(t *testing.T) {}\nfunc TestClientCertificates(t *testing.T) {}\n" +
			"func TestWatchResume(t *testing.T) {}\nfunc TestWatchCompacted(t *testing.T) {}\nfunc TestWatchStalled(t *testing.T) {}\n" +
			"func TestShutdownClosesWatches(t *testing.T) {}\nfunc TestMetricsEndpointMovesWithTheWork(t *testing.T) {}\n",
		"internal/wire/wire_test.go": "package wire\n\nimport \"testing\"\n\n" +
			"func TestDeltaRoundTrip(t *testing.T) {}\nfunc FuzzDeltaFromProto(f *testing.F) {}\n",
		"cmd/mmsb/serve_test.go": "package main\n\nimport \"testing\"\n\n" +
			"func TestServe(t *testing.T) {}\nfunc TestServeRefusesExposure(t *testing.T) {}\nfunc TestLoadtest(t *testing.T) {}\n" +
			"func TestServeDemo(t *testing.T) {}\nfunc TestServeShared(t *testing.T) {}\n" +
			"func TestServeReplicate(t *testing.T) {}\nfunc TestServeReplicateFailover(t *testing.T) {}\n",
		"internal/inspector/inspector_test.go": "package inspector\n\nimport \"testing\"\n\n" +
			"func TestInspectorViews(t *testing.T) {}\nfunc TestInspectorWrongToken(t *testing.T) {}\n" +
			"func TestConsoleCheckCatchesErrors(t *testing.T) {}\nfunc TestInspectorMillionPages(t *testing.T) {}\n" +
			"func FuzzInspectorRequests(f *testing.F) {}\n",
		"metrics/metrics_test.go": "package metrics\n\nimport \"testing\"\n\n" +
			"func TestBusCollectorMovesWithTheWork(t *testing.T) {}\nfunc TestBusCollectorCountsFailedCheckpoints(t *testing.T) {}\n" +
			"func TestRPCMetrics(t *testing.T) {}\nfunc TestNegativePedanticRegistryCatchesUndescribedMetric(t *testing.T) {}\n" +
			"func TestNegativeLintCatchesBadNames(t *testing.T) {}\n" +
			"func TestMetricsPageNamesEveryMetric(t *testing.T) {}\nfunc TestMetricsPageCheckCatchesDrift(t *testing.T) {}\n",
		"docs/docs_test.go": "package docs\n\nimport \"testing\"\n\n" +
			"func TestLinksResolve(t *testing.T) {}\nfunc TestNamedTestsExist(t *testing.T) {}\nfunc TestChecksCatchBadPages(t *testing.T) {}\n",
		"bench/peers/go.mod": "module example.com/fake/bench/peers\n\ngo 1.22\n",
		"bench/peers/peers_test.go": "package main\n\nimport \"testing\"\n\n" +
			"func TestTargetsApplyTheWorkloadExactly(t *testing.T) {}\nfunc TestNegativeVerifyCatchesALostWrite(t *testing.T) {}\nfunc TestConcurrentServerClients(t *testing.T) {}\n",
		"perf_test.go": "package fake\n\nimport \"testing\"\n\n" +
			"func TestPropertyMemoryPolicyKeepsState(t *testing.T) {}\nfunc TestPropertyParallelApplyEqualsSerial(t *testing.T) {}\n" +
			"func TestInMemoryBusMemoryBound(t *testing.T) {}\nfunc TestCheckpointWhileCommitting(t *testing.T) {}\n",
		"internal/semiring/builtins_test.go": "package semiring\n\nimport \"testing\"\n\nfunc TestProductsAreRoundedBeforeSums(t *testing.T) {}\n",
		"internal/harness/bench_stability_test.go": "package harness\n\nimport \"testing\"\n\n" +
			"func TestDiffuseStep(t *testing.T) {}\nfunc TestDiffuseStepMatchesWeighted(t *testing.T) {}\n",
		"internal/page/prefault_test.go": "package page\n\nimport \"testing\"\n\nfunc TestPrefaultMakesChunkResident(t *testing.T) {}\n",
		"cmd/mmsb/bench_test.go": "package main\n\nimport \"testing\"\n\n" +
			"func TestBenchGrowth(t *testing.T) {}\nfunc TestBenchStallTrace(t *testing.T) {}\n" +
			"func TestEveryFlagIsDocumented(t *testing.T) {}\nfunc TestUndocumentedFlagIsCaught(t *testing.T) {}\n",
		"bindings/c/doc.go": "package main\n\nfunc main() {}\n",
		"bindings/c/external_test.go": "package main\n\nimport \"testing\"\n\n" +
			"func TestCABI(t *testing.T) {}\nfunc TestCPP(t *testing.T) {}\nfunc TestPythonWriter(t *testing.T) {}\n" +
			"func TestHeaderMatchesExports(t *testing.T) {}\nfunc TestHeaderCheckNegativeControl(t *testing.T) {}\n" +
			"func TestCProgramFailureIsCaught(t *testing.T) {}\nfunc TestPytestNegativeControl(t *testing.T) {}\n" +
			"func TestCReaderTruncatedWhileMapped(t *testing.T) {}\n",
		"examples/compiler-ir/main.go": "package main\n\nfunc main() {}\n",
		"examples/cpp/writertest/writer_test.go": "package writertest\n\nimport \"testing\"\n\n" +
			"func TestWriterRefusesBadArgumentsAndOtherShapes(t *testing.T) {}\nfunc TestReaderRefusesBadArguments(t *testing.T) {}\n",
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
		{"server crash test missing", func(f map[string]string) {
			f["tests/crash/crash_test.go"] = strings.Replace(f["tests/crash/crash_test.go"], "func TestServerCrash(", "func TestServerCrashes(", 1)
		}, "TestServerCrash in tests/crash"},
		{"API check missing", func(f map[string]string) { delete(f, "api_test.go") }, "TestAPI in ."},
		{"shared torture missing", func(f map[string]string) {
			f["api_test.go"] = strings.Replace(f["api_test.go"], "func TestSharedTorture(", "func TestSharedTortureX(", 1)
		}, "TestSharedTorture in ."},
		{"long shared torture missing", func(f map[string]string) { delete(f, "shared_stress_test.go") }, "TestSharedTortureLong in . with build tag stress"},
		{"shared reattach test missing", func(f map[string]string) {
			f["api_test.go"] = strings.Replace(f["api_test.go"], "func TestSharedReattach(", "func TestSharedReattachX(", 1)
		}, "TestSharedReattach in . with build tag"},
		{"shared header fuzz target missing", func(f map[string]string) {
			f["internal/page/shm_test.go"] = strings.Replace(f["internal/page/shm_test.go"], "func FuzzDecodeShmHeader(", "func FuzzOther(", 1)
		}, "FuzzDecodeShmHeader in internal/page"},
		{"shared region fuzz target missing", func(f map[string]string) {
			f["internal/page/shm_test.go"] = strings.Replace(f["internal/page/shm_test.go"], "func FuzzShmRegion(", "func FuzzOther(", 1)
		}, "FuzzShmRegion in internal/page"},
		{"bindings test missing", func(f map[string]string) {
			f["bindings/c/external_test.go"] = strings.Replace(f["bindings/c/external_test.go"], "func TestPythonWriter(", "func TestPython(", 1)
		}, "TestPythonWriter in bindings/c"},
		{"bindings suite missing", func(f map[string]string) { delete(f, "tests/bindings/bindings_test.go") }, "tests/bindings"},
		{"bindings negative control gone", func(f map[string]string) {
			f["tests/bindings/bindings_test.go"] = strings.Replace(f["tests/bindings/bindings_test.go"], "func TestCHarnessCatchesFailures(", "func TestOther(", 1)
		}, "TestCHarnessCatchesFailures in tests/bindings"},
		{"python reader tests missing", func(f map[string]string) { delete(f, "python/tests/test_reader.py") }, "python/tests/test_reader.py"},
		{"C reader tests missing", func(f map[string]string) { delete(f, "bindings/c/test/reader_test.c") }, "bindings/c/test/reader_test.c"},
		{"replication failover suite missing", func(f map[string]string) { delete(f, "internal/replicate/proc_long_test.go") },
			"TestLeaderKilled in internal/replicate with build tag replication"},
		{"server watch test missing", func(f map[string]string) {
			f["internal/server/server_test.go"] = strings.Replace(f["internal/server/server_test.go"], "func TestWatchStalled(", "func TestWatchX(", 1)
		}, "TestWatchStalled in internal/server"},
		{"inspector console-error control missing", func(f map[string]string) {
			f["internal/inspector/inspector_test.go"] = strings.Replace(f["internal/inspector/inspector_test.go"], "func TestConsoleCheckCatchesErrors(", "func TestConsoleX(", 1)
		}, "TestConsoleCheckCatchesErrors in internal/inspector"},
		{"stress suite missing", func(f map[string]string) { delete(f, "tests/stress/stress_test.go") }, "tests/stress"},
		{"metrics negative control missing", func(f map[string]string) {
			f["metrics/metrics_test.go"] = strings.Replace(f["metrics/metrics_test.go"], "func TestNegativeLintCatchesBadNames(", "func TestLint(", 1)
		}, "TestNegativeLintCatchesBadNames in metrics"},
		{"docs tests missing", func(f map[string]string) { delete(f, "docs/docs_test.go") }, "docs"},
		{"docs negative control missing", func(f map[string]string) {
			f["docs/docs_test.go"] = strings.Replace(f["docs/docs_test.go"], "func TestChecksCatchBadPages(", "func TestChecks(", 1)
		}, "TestChecksCatchBadPages in docs"},
		{"undocumented-flag control missing", func(f map[string]string) {
			f["cmd/mmsb/bench_test.go"] = strings.Replace(f["cmd/mmsb/bench_test.go"], "func TestUndocumentedFlagIsCaught(", "func TestFlags(", 1)
		}, "TestUndocumentedFlagIsCaught in cmd/mmsb"},
		{"peers module missing", func(f map[string]string) { delete(f, "bench/peers/go.mod"); delete(f, "bench/peers/peers_test.go") }, "bench/peers"},
		{"peers negative control missing", func(f map[string]string) {
			f["bench/peers/peers_test.go"] = strings.Replace(f["bench/peers/peers_test.go"], "func TestNegativeVerifyCatchesALostWrite(", "func TestVerify(", 1)
		}, "TestNegativeVerifyCatchesALostWrite in bench/peers"},
		// The arm64 step runs these by name pattern, which passes when it
		// matches nothing: renamed, they ran nowhere and CI passed.
		{"arm64 reference test renamed", func(f map[string]string) {
			f["internal/harness/bench_stability_test.go"] = strings.Replace(f["internal/harness/bench_stability_test.go"],
				"func TestDiffuseStepMatchesWeighted(", "func TestReferenceMatchesWeighted(", 1)
		}, "TestDiffuseStepMatchesWeighted in internal/harness"},
		{"arm64 rounding test renamed", func(f map[string]string) {
			f["internal/semiring/builtins_test.go"] = strings.Replace(f["internal/semiring/builtins_test.go"],
				"func TestProductsAreRoundedBeforeSums(", "func TestRounding(", 1)
		}, "TestProductsAreRoundedBeforeSums in internal/semiring"},
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
