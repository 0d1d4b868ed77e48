//go:build race

package server

// raceBuild: the internal tests run under the race detector, whose
// instrumentation makes protojson's decode allocate about a tenth more
// than a plain build does (10.4 bytes a wire byte against 9.3 estimated
// for one-byte runs, CI 2026-12-07): the decode estimates are checked
// against the allocations of a plain build, which CI runs with the
// invariants tag.
const raceBuild = true
