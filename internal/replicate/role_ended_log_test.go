package replicate

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestRoleEndedLoggedOnceForTheSameError: a leader-capable node whose
// stream an operator deleted ends a role every LeaseTTL/4 for ever with
// the same error; it logs the first "role ended" line and not one per
// attempt (23 lines in 17 s with a 3 s lease before). The test counts the
// attempts (Node.roleEnds), not time.
func TestRoleEndedLoggedOnceForTheSameError(t *testing.T) {
	c := startTestCluster(t, 1)
	logs := &logLines{t: t}
	cfg := testConfig(1)
	cfg.LeaseTTL = MinLeaseTTL       // an attempt every 125 ms
	cfg.AckTimeout = 2 * time.Second // the failed publish ends the role sooner
	a := startNode(t, c, NodeConfig{Config: cfg, ID: "a", CheckpointEvery: -1, Logf: logs.logf})
	_, bus := waitLeader(t, a)
	if err := a.res.js.DeleteStream(context.Background(), a.res.cfg.StreamName()); err != nil {
		t.Fatal(err)
	}
	// A commit's publish fails and ends the role that led; then every
	// attempt to follow finds no stream.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := bus.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}}); err == nil {
		t.Fatal("a commit with the stream deleted succeeded")
	}
	waitFor(t, "ten roles ended", func() bool { return a.roleEnds.Load() >= 10 })
	a.stop()
	if n := logs.count("role ended"); n < 1 || n > 3 {
		t.Errorf("%d \"role ended\" lines for %d roles ended, want 1 to 3 (the lead's end, the first of the repeated error)", n, a.roleEnds.Load())
	}
	// The cycles' repeated error; the lead's end may say "stream not
	// found" too (the leader's look at its stream: checkStream), once.
	if n := logs.count("stream unavailable: stream info: nats: API error: code=404 err_code=10059 description=stream not found"); n != 1 {
		t.Errorf("%d lines say the stream was not found at a cycle's position check, want 1", n)
	}
}

// TestRepeatLog: the first line is logged, the same text again only
// after the interval with the count of those left out, and a different
// text at once, saying how many of the previous were left out.
func TestRepeatLog(t *testing.T) {
	r := repeatLog{every: time.Minute}
	t0 := time.Unix(1000, 0)
	step := func(text string, at time.Duration, wantLog bool, wantNote string) {
		t.Helper()
		log, note := r.next(text, t0.Add(at))
		if log != wantLog || !strings.Contains(note, wantNote) || (wantNote == "" && note != "") {
			t.Errorf("next(%q) at +%v = %v, %q; want %v, a note holding %q", text, at, log, note, wantLog, wantNote)
		}
	}
	step("a", 0, true, "")
	step("a", time.Second, false, "")
	step("a", 2*time.Second, false, "")
	step("a", time.Minute, true, "(2 more like it in the last 1m0s, not logged)")
	step("a", time.Minute+time.Second, false, "")
	step("b", time.Minute+2*time.Second, true, "(the previous error ended 1 more roles, not logged)")
	step("a", time.Minute+3*time.Second, true, "")
	step("a", 3*time.Minute, true, "")
}
