//go:build race

package server_test

// raceEnabled: the tests run under the race detector, whose shadow memory
// makes a test that moves a 128 MiB message take gigabytes.
const raceEnabled = true
