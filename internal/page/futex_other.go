//go:build !linux

package page

import "time"

// Without futexes, waiters sleep for their whole timeout (polling).
func futexWakeAll(*uint32) {}

func futexWaitFor(_ *uint32, _ uint32, d time.Duration) { time.Sleep(min(d, time.Millisecond)) }
