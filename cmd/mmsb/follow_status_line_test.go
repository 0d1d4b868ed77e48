package main

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/replicate"
)

// TestStatusLineSaysLagUnknown: while the follower cannot read the stream
// the status line prints lag_lsn=unknown, not the last value (a follower
// whose leader had exited kept printing "lag_lsn=93000").
func TestStatusLineSaysLagUnknown(t *testing.T) {
	var m replicate.Metrics
	m.AppliedLSN.Store(4042096)
	m.LagLSN.Store(93000)
	if got := statusLine(&m); !strings.Contains(got, " lag_lsn=93000 ") {
		t.Errorf("status line %q lacks lag_lsn=93000", got)
	}
	m.LagUnknown.Store(true)
	got := statusLine(&m)
	if !strings.Contains(got, "applied_lsn=4042096 lag_lsn=unknown ") {
		t.Errorf("status line %q, want applied_lsn=4042096 lag_lsn=unknown", got)
	}
}

// TestStatusLineSaysWaitingForStream: while a follow-only node waits for a
// leader to make its stream, the status line says waiting_for_stream=1
// (it printed a healthy-looking follower at applied_lsn=0).
func TestStatusLineSaysWaitingForStream(t *testing.T) {
	var m replicate.Metrics
	if got := statusLine(&m); !strings.HasSuffix(got, " waiting_for_stream=0") {
		t.Errorf("status line %q, want it to end with waiting_for_stream=0", got)
	}
	m.WaitingForStream.Store(true)
	if got := statusLine(&m); !strings.HasSuffix(got, " waiting_for_stream=1") {
		t.Errorf("status line %q, want it to end with waiting_for_stream=1", got)
	}
}
