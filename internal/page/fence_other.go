//go:build !amd64 && !arm64

package page

import "sync/atomic"

// fenceWord is private to the reader process: the atomic read-modify-write
// below is a full barrier on weakly ordered CPUs (arm64), keeping the
// payload loads before the second sequence load. Readers still write
// nothing shared.
var fenceWord atomic.Uint32

func readFence() { fenceWord.Add(0) }
