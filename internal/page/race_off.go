//go:build !race

package page

// raceEnabled reports whether the race detector is compiled in; tests that
// are too slow or too memory-hungry under it skip themselves.
const raceEnabled = false
