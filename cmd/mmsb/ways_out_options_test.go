package main

import (
	"context"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestWaysOutByOptionAcceptedAfter follows the ways out that check's
// problems and Open's refusals name for a lost log by option: a bus's
// lost files (no checkpoint) and a log removed beside a checkpoint
// (segments or wal/ itself), opened once with Options.Repair or
// Options.DisableLog. Each Open reports the loss (Recovery().Log, from
// the LSN after the checkpoint's), opens at the checkpoint (or empty),
// and commits on from there; after it check, inspect, graph and
// checkpoint accept the directory, and the next Open, with the log,
// holds what was committed since: the way out loses nothing more.
func TestWaysOutByOptionAcceptedAfter(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		make func(t *testing.T) string
		at   mmsb.LSN // the LSN the Open accepting the loss opens at
	}{
		{"lost files, wal/ emptied", func(t *testing.T) string { return lostBus(t, false) }, 0},
		{"lost files, wal/ removed", func(t *testing.T) string { return lostBus(t, true) }, 0},
		{"segments removed beside a checkpoint", func(t *testing.T) string { return removedLogBus(t, false) }, 3},
		{"wal/ removed beside a checkpoint", func(t *testing.T) string { return removedLogBus(t, true) }, 3},
	} {
		for _, way := range []mmsb.Options{{Repair: true}, {DisableLog: true}} {
			name := tc.name + ", Repair"
			if way.DisableLog {
				name = tc.name + ", DisableLog"
			}
			t.Run(name, func(t *testing.T) {
				dir := tc.make(t)
				if r := runCLI(t, "check", dir); r.code != exitFailure {
					t.Fatalf("check before the way out: exit %d, want %d:\n%s%s", r.code, exitFailure, r.stdout, r.stderr)
				}
				bus, err := mmsb.Open(dir, &way)
				if err != nil {
					t.Fatalf("Open with the way out: %v", err)
				}
				rec := bus.Recovery().Log
				if bus.LastLSN() != tc.at || rec.LostFirstLSN != tc.at+1 || rec.LostLastLSN != mmsb.LostLSNUnknown {
					bus.Close()
					t.Fatalf("Open with the way out: LSN %d, lost %d..%d; want LSN %d, lost %d..unknown", bus.LastLSN(), rec.LostFirstLSN, rec.LostLastLSN, tc.at, tc.at+1)
				}
				if _, err := bus.CreatePage(ctx, mmsb.PageSpec{Size: 8}); err != nil {
					bus.Close()
					t.Fatal(err)
				}
				if way.DisableLog {
					// Without a log only a checkpoint keeps the commit.
					if _, err := bus.Checkpoint(ctx); err != nil {
						bus.Close()
						t.Fatal(err)
					}
				}
				if err := bus.Close(); err != nil {
					t.Fatal(err)
				}
				cmds := []string{"check", "inspect", "graph", "checkpoint", "check"}
				for _, cmd := range cmds {
					if r := runCLI(t, cmd, dir); r.code != exitOK {
						t.Errorf("mmsb %s after the way out: exit %d, want %d:\n%s%s", cmd, r.code, exitOK, r.stdout, r.stderr)
					}
				}
				bus, err = mmsb.Open(dir, nil)
				if err != nil {
					t.Fatalf("Open with the log after the way out: %v", err)
				}
				defer bus.Close()
				if bus.LastLSN() != tc.at+1 {
					t.Fatalf("Open with the log after the way out: LSN %d, want %d (the commit made after it)", bus.LastLSN(), tc.at+1)
				}
				if rec := bus.Recovery().Log; rec.LostFirstLSN != 0 {
					t.Fatalf("Open with the log after the way out reports lost LSNs %d..%d again", rec.LostFirstLSN, rec.LostLastLSN)
				}
			})
		}
	}
}
