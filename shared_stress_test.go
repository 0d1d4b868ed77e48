//go:build stress

package mmsb_test

import (
	"testing"
	"time"
)

// TestSharedTortureLong is the torture test of shared mode run for about
// 30 s instead of 2 (.ci/run's stress step).
func TestSharedTortureLong(t *testing.T) { runTorture(t, 10*time.Second) }
