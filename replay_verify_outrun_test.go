package mmsb

import (
	"fmt"
	"testing"
)

// TestVerifyReplayFinishesWhenCommitsOutrunIt: between every two steps
// of VerifyReplay (the hook) more operations are committed than a step
// catches up, and, in the second case, more pages created than a step
// compares: the stepped verification alone never finishes. After its
// step budget (verifyStepBudget) the last step catches up and compares
// the rest in one read-lock hold, and the report is Equal at the bus's
// LSN. Before the budget, the first case took its 2,000th step without
// the replay ever reaching the live LSN ("still behind after 2000
// steps"), the second likewise; the hook stops outrunning it there, so
// that the failure ends.
func TestVerifyReplayFinishesWhenCommitsOutrunIt(t *testing.T) {
	for _, create := range []bool{false, true} {
		t.Run(fmt.Sprintf("create %v", create), func(t *testing.T) {
			e := openT(t, t.TempDir(), &Options{CheckpointBytes: -1, Sync: SyncNone})
			// Two ranges: the first step compares one and returns.
			ids := mustCreate(t, e, verifyStepPages+1, 64)
			big := make([]Delta, verifyStepOps+1)
			for i := range big {
				big[i] = Write(ids[i%64], uint32(i%60), []byte{byte(i), byte(i >> 8)})
			}
			specs := make([]PageSpec, verifyStepPages+1)
			for i := range specs {
				specs[i] = PageSpec{Size: 16}
			}
			const giveUp = 2000
			steps := 0
			e.verifyStepped = func(PageID) {
				if steps++; steps >= giveUp {
					return
				}
				if _, err := e.Commit(ctx, big); err != nil {
					t.Error(err)
				}
				if create {
					if _, err := e.CreatePages(ctx, specs); err != nil {
						t.Error(err)
					}
				}
			}
			budget := e.verifyStepBudget()
			rep, err := e.VerifyReplay(ctx, false)
			e.verifyStepped = nil
			if err != nil {
				t.Fatal(err)
			}
			if steps >= giveUp {
				t.Fatalf("still behind after %d steps: commits that outrun the steps keep VerifyReplay from finishing", steps)
			}
			if !rep.Equal() || rep.LSN != e.LastLSN() {
				t.Fatalf("report at LSN %d (bus at %d), equal %v: %+v", rep.LSN, e.LastLSN(), rep.Equal(), rep.Differences)
			}
			if steps > budget {
				t.Fatalf("%d steps, over the budget of %d", steps, budget)
			}
			t.Logf("%d steps (budget %d), %d pages compared", steps, budget, rep.Pages)
		})
	}
}
