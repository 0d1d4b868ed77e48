//go:build race

package main

// raceEnabled: the tests run under the race detector, which also turns on
// checkptr: there a failing unsafe.Slice is a fatal error, not a panic
// (the runtime's own check calls it), so TestSpanFitsIsUnsafeSlicesCondition
// compares spanFits with a model of the runtime's check instead.
const raceEnabled = true
