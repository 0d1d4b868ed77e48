package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

var ctx = context.Background()

// tiny is a workload small enough for a unit test but with many writes per
// page (3,000 over 32 pages), overlapping writes within a batch and
// compactions' worth of merges for Pebble's operator.
var tiny = Workload{Deltas: 3000, Pages: 32, PageSize: 1024, Batch: 100, Seed: 7}

// requireProgram skips the test when prog is not on PATH, naming it, or
// fails when MMSB_REQUIRE_EXTERNAL=1 (CI), so that a missing peer never
// passes silently there.
func requireProgram(t *testing.T, prog string) {
	t.Helper()
	if _, err := exec.LookPath(prog); err != nil {
		if os.Getenv("MMSB_REQUIRE_EXTERNAL") == "1" {
			t.Fatalf("%s not found on PATH and MMSB_REQUIRE_EXTERNAL=1: %v", prog, err)
		}
		t.Skipf("%s not found on PATH (Debian package redis-server): skipping", prog)
	}
}

// Every target, in both modes, ends with the bytes the model computes, and
// with MMSB's bytes.
func TestTargetsApplyTheWorkloadExactly(t *testing.T) {
	batches := tiny.Batches()
	model := tiny.Model(batches)
	var mmsbPages [][]byte
	for _, e := range targets() {
		if e.Clients > 1 {
			continue // concurrent batches apply in the server's order: TestConcurrentServerClients
		}
		t.Run(e.System+"/"+e.Mode, func(t *testing.T) {
			if e.System == "redis" {
				requireProgram(t, RedisProgram)
			}
			tg := e.New()
			defer func() {
				if err := tg.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			}()
			if err := applyAll(ctx, tg, t.TempDir(), tiny, batches); err != nil {
				t.Fatal(err)
			}
			if err := verifyPages(ctx, tg, model); err != nil {
				t.Fatalf("against the model: %v", err)
			}
			if e.System == "mmsb" {
				if mmsbPages == nil {
					for i := range model {
						p, err := tg.ReadPage(ctx, uint32(i))
						if err != nil {
							t.Fatal(err)
						}
						mmsbPages = append(mmsbPages, p)
					}
				}
				return
			}
			if mmsbPages == nil {
				t.Fatal("MMSB did not run first")
			}
			if err := verifyPages(ctx, tg, mmsbPages); err != nil {
				t.Fatalf("against MMSB: %v", err)
			}
		})
	}
}

// lossyTarget drops the last write of every batch: the defect the
// comparison above exists to catch.
type lossyTarget struct{ Target }

func (l lossyTarget) Commit(ctx context.Context, b []Write) error {
	return l.Target.Commit(ctx, b[:len(b)-1])
}

func TestNegativeVerifyCatchesALostWrite(t *testing.T) {
	batches := tiny.Batches()
	tg := lossyTarget{&mmsbTarget{}}
	defer tg.Close()
	if err := applyAll(ctx, tg, t.TempDir(), tiny, batches); err != nil {
		t.Fatal(err)
	}
	err := verifyPages(ctx, tg, tiny.Model(batches))
	if err == nil || !strings.Contains(err.Error(), "differs at offset") {
		t.Fatalf("a target that loses writes passed verification: %v", err)
	}
}

// The Pebble merge operator's partial merges (compactions see operands
// without their base) compose with full merges to the same page.
func TestPebbleMergerPartialThenFull(t *testing.T) {
	m := pageMerger(8)
	op := func(off uint32, data string) []byte { return appendWrite([]byte{tagWrites}, off, []byte(data)) }
	partial, err := m.Merge(nil, op(0, "ab"))
	if err != nil {
		t.Fatal(err)
	}
	if err := partial.MergeNewer(op(1, "XY")); err != nil {
		t.Fatal(err)
	}
	list, _, err := partial.Finish(false)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := m.Merge(nil, list)
	if err := full.MergeOlder(append([]byte{tagPage}, "12345678"...)); err != nil {
		t.Fatal(err)
	}
	if err := full.MergeNewer(op(6, "z")); err != nil {
		t.Fatal(err)
	}
	page, _, err := full.Finish(true)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte{tagPage}, "aXY456z8"...); !bytes.Equal(page, want) {
		t.Fatalf("merged page %q, want %q", page, want)
	}
	if _, err := m.Merge(nil, []byte{9}); err == nil {
		t.Fatal("operand with an unknown tag accepted")
	}
	if err := applyWrites(make([]byte, 4), appendWrite(nil, 3, []byte("ab"))); err == nil {
		t.Fatal("write past the page end accepted")
	}
}

func TestWorkloadIsDeterministic(t *testing.T) {
	a, b := tiny.Batches(), tiny.Batches()
	if len(a) != 30 || len(a[0]) != 100 {
		t.Fatalf("%d batches of %d, want 30 of 100", len(a), len(a[0]))
	}
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				t.Fatalf("batch %d write %d differs between two draws", i, j)
			}
			if w := a[i][j]; int(w.Page) >= tiny.Pages || int(w.Off)+WriteSize > tiny.PageSize {
				t.Fatalf("write %+v outside the pages", w)
			}
		}
	}
	other := tiny
	other.Seed++
	if other.Batches()[0][0] == a[0][0] {
		t.Fatal("another seed drew the same first write")
	}
}

func TestRunPrintsTableAndJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"--deltas", "500", "--pages", "16", "--batch", "50", "--only", "mmsb,bbolt/nosync"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mmsb  nosync", "mmsb    sync", "bbolt  nosync", "MMSB/peer"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(ctx, []string{"--deltas", "200", "--pages", "16", "--batch", "50", "--only", "mmsb/nosync,pebble/nosync", "--json"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"mmsb_ratio"`) || !strings.Contains(out.String(), `"system": "pebble"`) {
		t.Errorf("JSON lacks the ratio or pebble:\n%s", out.String())
	}
	for _, bad := range [][]string{{"--only", "nosuch"}, {"--batch", "0"}, {"--page-size", "8"}} {
		if err := run(ctx, bad, &out, &errOut); err == nil {
			t.Errorf("run %v accepted", bad)
		}
	}
}

// TestConcurrentServerClients: with 4 clients committing concurrently, the
// server target ends with the bytes of the model applied in the order the
// server gave the batches LSNs (every batch exactly once).
func TestConcurrentServerClients(t *testing.T) {
	batches := tiny.Batches()
	tg := &mmsbServerTarget{clients: 4, recordOrder: true}
	defer func() {
		if err := tg.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	if err := tg.Setup(ctx, t.TempDir(), tiny); err != nil {
		t.Fatal(err)
	}
	if _, err := commitAll(ctx, tg, batches, 4); err != nil {
		t.Fatal(err)
	}
	order, err := tg.commitOrder(batches)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyPages(ctx, tg, tiny.Model(order)); err != nil {
		t.Fatalf("against the model in commit order: %v", err)
	}
}
