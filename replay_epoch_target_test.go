package mmsb

import (
	"errors"
	"testing"
)

// A replay to a page's epoch stops right after the operation that took the
// page to that epoch (its creation for epoch 0), and fails, never
// answering with another state, when the history it needs is gone
// (ErrLogTruncated) or the page never reaches the epoch (ErrInvalidOption:
// a target past the history, as a ToLSN past the last LSN; it said
// ErrLogTruncated, history lost).
func TestReplayToPageEpoch(t *testing.T) {
	e := openT(t, t.TempDir(), nil)
	defer e.Close()
	ids := mustCreate(t, e, 2, 8) // LSNs 1, 2
	a, b := ids[0], ids[1]
	commitT(t, e, w(a, 0, "a1")) // a epoch 1
	commitT(t, e, w(b, 0, "b1")) // b epoch 1
	commitT(t, e, w(a, 0, "a2")) // a epoch 2
	last := e.LastLSN()

	tests := []struct {
		name      string
		target    ReplayTarget
		wantLSN   LSN // replayed state's last LSN
		wantErr   error
		wantEpoch Epoch // of target.Page
	}{
		{"epoch 1", ReplayTarget{Page: a, Epoch: 1}, 3, nil, 1},
		{"epoch 2", ReplayTarget{Page: a, Epoch: 2}, 5, nil, 2},
		{"epoch 0 is the creation", ReplayTarget{Page: b, Epoch: 0}, 2, nil, 0},
		{"epoch never reached", ReplayTarget{Page: b, Epoch: 7}, 0, ErrInvalidOption, 0},
		{"page never created", ReplayTarget{Page: 99, Epoch: 1}, 0, ErrInvalidOption, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.Replay(ctx, tc.target)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					got := LSN(0)
					if r != nil {
						got = r.LastLSN()
						r.Close()
					}
					t.Fatalf("Replay(%+v) = state at LSN %d (log ends at %d), %v; want %v", tc.target, got, last, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, ep, err := r.ReadPage(tc.target.Page, nil)
			if err != nil || ep != tc.wantEpoch || r.LastLSN() != tc.wantLSN {
				t.Fatalf("Replay(%+v): page epoch %d (%v), state at LSN %d; want epoch %d at LSN %d",
					tc.target, ep, err, r.LastLSN(), tc.wantEpoch, tc.wantLSN)
			}
		})
	}
}

// When the log was trimmed and the oldest checkpoint already holds the page
// at the target epoch, reached before later operations the checkpoint also
// holds, the state the target names is gone: ErrLogTruncated, not the
// checkpoint's state.
func TestReplayToPageEpochPastOldestCheckpoint(t *testing.T) {
	e := openT(t, t.TempDir(), &Options{SegmentBytes: 4096})
	defer e.Close()
	ids := mustCreate(t, e, 2, 64)
	a, b := ids[0], ids[1]
	commitT(t, e, w(b, 0, "b1")) // b reaches epoch 1 here
	for i := 0; i < 200; i++ {
		commitT(t, e, w(a, 8, "filler-filler-filler-filler"))
	}
	for i := 0; i < 2; i++ {
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		commitT(t, e, w(b, 0, "b2"))
	}
	if st := e.Stats(); st.Log.OldestLSN <= 3 {
		t.Fatalf("log not trimmed (oldest LSN %d); the test needs it trimmed", st.Log.OldestLSN)
	}
	r, err := e.Replay(ctx, ReplayTarget{Page: b, Epoch: 1})
	if !errors.Is(err, ErrLogTruncated) {
		got := LSN(0)
		if r != nil {
			got = r.LastLSN()
			r.Close()
		}
		t.Fatalf("Replay to page %d epoch 1 (reached at LSN 3, log trimmed) = state at LSN %d, %v; want ErrLogTruncated", b, got, err)
	}
	// Epoch 2 was reached after the oldest checkpoint: replayable.
	r, err = e.Replay(ctx, ReplayTarget{Page: b, Epoch: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, ep, _ := r.ReadPage(b, nil); ep != 2 || string(got[:2]) != "b2" {
		t.Fatalf("replay to epoch 2: %q epoch %d", got[:2], ep)
	}
}
