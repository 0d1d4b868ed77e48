//go:build stress

// Package stress holds MMSB's long-running stress suites: commit
// throughput with an independently computed expected state, a 10,000-cycle
// random workload with graph mutations under the invariant validator, and
// process memory at one million pages. They are behind the "stress" build
// tag so that `go test ./...` stays quick:
//
//	go test -tags stress -count=1 -v ./tests/stress/
//
// The suites assert correctness (states, replay, validator reports, memory
// bounds), never timing: the machines that run them are shared and noisy.
// Figures are printed on lines that begin with "stress_" (see
// docs/stress.md), which the CI script greps out of the verbose output.
package stress
