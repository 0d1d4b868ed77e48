package mmsb

import (
	"fmt"
	"testing"
	"time"
)

// commitWithin commits ds from another goroutine and reports whether it
// returned within livenessBound: a commit that a lock holds back shows as
// false instead of a hang.
func commitWithin(t *testing.T, e *Bus, ds []Delta) bool {
	t.Helper()
	done := make(chan error, 1)
	go func() { _, err := e.Commit(ctx, ds); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
		return true
	case <-time.After(livenessBound):
		return false
	}
}

// TestVerifyReplayLetsCommitsThrough: commits go on while VerifyReplay
// replays (until 2026-12-04 it held the bus's lock for the whole replay, so
// every commit, read and Stats waited for it). The hook commits, once the
// replay reached the LSN it started at, a few small batches and one larger
// than a locked step catches up; each must return while VerifyReplay is
// still running, and the report must compare the state with all of them
// (its LSN is the bus's after them, and the replay equals the live state).
// The negative control changes a live page's bytes behind the log at the
// same point: the comparison after the catch-up must see it.
func TestVerifyReplayLetsCommitsThrough(t *testing.T) {
	for _, tc := range []struct {
		name         string
		fromNewest   bool
		corruptAfter bool
	}{
		{"from LSN 1", false, false},
		{"from the newest checkpoint", true, false},
		{"control: a live page changed behind the log", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openT(t, t.TempDir(), &Options{CheckpointBytes: -1})
			defer func() { _ = e.Close() }()
			ids, err := e.CreatePages(ctx, []PageSpec{{Size: 4096}, {Size: 64}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 200 {
				if _, err := e.Commit(ctx, []Delta{Write(ids[i%2], uint32(i%48), []byte(fmt.Sprint(i)))}); err != nil {
					t.Fatal(err)
				}
			}
			if tc.fromNewest {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := e.Commit(ctx, []Delta{Write(ids[1], 0, []byte("after the checkpoint"))}); err != nil {
					t.Fatal(err)
				}
			}
			start := e.LastLSN()
			ran := false
			e.verifyReplayed = func() {
				ran = true
				if tc.corruptAfter {
					e.lockSettled()
					sl, _ := e.store.Lookup(ids[0])
					e.store.Bytes(sl)[100] ^= 0xff
					e.mu.Unlock()
					return
				}
				for i := range 3 {
					if !commitWithin(t, e, []Delta{Write(ids[1], uint32(i), []byte{byte(i + 1)})}) {
						t.Errorf("a commit waited %v for VerifyReplay", livenessBound)
						return
					}
				}
				big := make([]Delta, verifyStepOps+10)
				for i := range big {
					big[i] = Write(ids[0], uint32(i%4000), []byte{byte(i), byte(i >> 8)})
				}
				if !commitWithin(t, e, big) {
					t.Errorf("a commit of %d deltas waited %v for VerifyReplay", len(big), livenessBound)
				}
			}
			rep, err := e.VerifyReplay(ctx, tc.fromNewest)
			e.verifyReplayed = nil
			if err != nil {
				t.Fatal(err)
			}
			if !ran {
				t.Fatal("the hook never ran: nothing was committed during the replay")
			}
			if tc.corruptAfter {
				if rep.Equal() || rep.PagesDiffering != 1 || rep.BytesDiffering != 1 {
					t.Fatalf("a byte changed behind the log after the replay started was not caught: %+v", rep)
				}
				return
			}
			if !rep.Equal() {
				t.Fatalf("replay under commits differs: %+v", rep)
			}
			if want := start + 3 + LSN(verifyStepOps+10); rep.LSN != want || e.LastLSN() != want {
				t.Fatalf("report at LSN %d, bus at %d; want both %d (started at %d)", rep.LSN, e.LastLSN(), want, start)
			}
			if tc.fromNewest != (rep.FromCheckpoint != "") {
				t.Fatalf("replay started from %q", rep.FromCheckpoint)
			}
		})
	}
}

// TestVerifyReplayStepsInterleaveCommits: VerifyReplay compares in steps,
// and a commit lands after every step (the hook), on pages of ranges
// compared and not yet compared, creating and freeing pages too: every
// step must catch the replay up before comparing, so the report is equal,
// at the LSN after the last commit. Controls: a byte changed behind the log
// in a range not compared yet is caught; one changed in a range already
// compared is not (what ReplayReport says a step-wise comparison is).
func TestVerifyReplayStepsInterleaveCommits(t *testing.T) {
	const pages = 3*verifyStepPages + 100 // four ranges of pages of 64 bytes
	for _, tc := range []struct {
		name   string
		behind func(next PageID) PageID // a page to change behind the log after the first step, 0: none
		caught bool
	}{
		{"commits between steps", nil, false},
		{"control: a change behind the log ahead of the comparison", func(next PageID) PageID { return next + 10 }, true},
		{"control: a change behind the log already compared", func(next PageID) PageID { return next - 10 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := openT(t, t.TempDir(), &Options{CheckpointBytes: -1})
			defer func() { _ = e.Close() }()
			ids := mustCreate(t, e, pages, 64)
			for i := range 500 {
				if _, err := e.Commit(ctx, []Delta{Write(ids[(i*97)%pages], uint32(i%56), []byte{byte(i), 7, 7, 7})}); err != nil {
					t.Fatal(err)
				}
			}
			steps := 0
			e.verifyStepped = func(next PageID) {
				steps++
				if steps == 1 && tc.behind != nil {
					e.lockSettled()
					sl, _ := e.store.Lookup(tc.behind(next))
					e.store.Bytes(sl)[3] ^= 0xff
					e.mu.Unlock()
				}
				if tc.behind != nil {
					return
				}
				ds := []Delta{Write(ids[steps%pages], 1, []byte{byte(steps)}), Write(ids[pages-1-steps], 2, []byte{byte(steps)})}
				if !commitWithin(t, e, ds) {
					t.Errorf("a commit between steps waited %v", livenessBound)
				}
				if _, err := e.CreatePage(ctx, PageSpec{Size: 16}); err != nil {
					t.Error(err)
				}
				if err := e.FreePage(ctx, ids[pages/2+steps]); err != nil {
					t.Error(err)
				}
			}
			rep := verifySteppedReport(t, e, &steps)
			if tc.behind != nil {
				if caught := !rep.Equal(); caught != tc.caught {
					t.Fatalf("change behind the log caught: %v, want %v (%+v)", caught, tc.caught, rep)
				}
				return
			}
			if !rep.Equal() || rep.LSN != e.LastLSN() {
				t.Fatalf("report at LSN %d (bus at %d): %+v", rep.LSN, e.LastLSN(), rep)
			}
			// With no commit during it, the stepped hashes are the state's.
			rep, err := e.VerifyReplay(ctx, false)
			if err != nil || !rep.Equal() {
				t.Fatalf("quiet VerifyReplay: %v %+v", err, rep)
			}
			if h := hashOf(t, e); rep.LiveHash != h || rep.ReplayHash != h {
				t.Fatalf("quiet VerifyReplay: live hash %#x, replay hash %#x, the bus's state hash %#x", rep.LiveHash, rep.ReplayHash, h)
			}
		})
	}
}

// verifySteppedReport runs VerifyReplay with the step hook the caller set
// (which counts the steps in *steps), removes the hook, and fails unless
// the comparison took at least three steps.
func verifySteppedReport(t *testing.T, e *Bus, steps *int) ReplayReport {
	t.Helper()
	rep, err := e.VerifyReplay(ctx, false)
	e.verifyStepped = nil
	if err != nil {
		t.Fatal(err)
	}
	if *steps < 3 {
		t.Fatalf("%d steps between ranges, want at least 3: the comparison was not stepped", *steps)
	}
	return rep
}
