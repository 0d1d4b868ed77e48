//go:build stress

package stress

import (
	"bytes"
	"context"
	"encoding/binary"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/harness"
)

const (
	memPageSize   = 1024
	memBudget1M   = 1 << 30 // the seed's "1M pages <= 1 GB", as process RSS growth
	memChunk      = 65_536  // pages per CreatePages call
	memWriteBatch = 4096    // deltas per Commit
	burstPages    = 100_000
	burstRounds   = 20
	// burstArenaSlack is how far the arena may grow past the first round's
	// peak: rounds create as many pages as they free, so freed cells must be
	// reused. The slack allows one arena growth step of rounding.
	burstArenaSlack = 8 << 20
	// burstRSSSlack bounds RSS growth across rounds (Go heap noise, log
	// buffers); a leak of one cell per freed page would exceed it after a
	// few rounds (100k KiB per round).
	burstRSSSlack = 64 << 20
)

// settledRSS returns the process RSS after returning every free heap page
// to the OS, so that what is left is what live objects and mappings hold.
func settledRSS(t testing.TB) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	rss, err := harness.ReadRSS()
	if err != nil {
		t.Fatal(err) // an unreadable RSS must fail the test, not read as 0
	}
	return rss
}

// openDisk opens a bus in a temporary directory with sync mode none and no
// automatic checkpoints: the log goes to the page cache, not to this
// process's memory, so RSS measures the bus itself.
func openDisk(t *testing.T) *mmsb.Bus {
	t.Helper()
	e, err := mmsb.Open(t.TempDir(), &mmsb.Options{Sync: mmsb.SyncNone, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// createPages creates n pages of memPageSize bytes and returns their IDs.
func createPages(t *testing.T, ctx context.Context, e *mmsb.Bus, n int) []mmsb.PageID {
	t.Helper()
	ids := make([]mmsb.PageID, 0, n)
	specs := make([]mmsb.PageSpec, 0, memChunk)
	for len(ids) < n {
		specs = specs[:0]
		for i := 0; i < memChunk && len(ids)+i < n; i++ {
			specs = append(specs, mmsb.PageSpec{Size: memPageSize})
		}
		got, err := e.CreatePages(ctx, specs)
		if err != nil {
			t.Fatalf("create pages after %d: %v", len(ids), err)
		}
		ids = append(ids, got...)
	}
	return ids
}

// stamp returns the 16 bytes written into page id and their offset.
func stamp(id mmsb.PageID, dst *[16]byte) (off uint32) {
	binary.LittleEndian.PutUint64(dst[0:], uint64(id))
	binary.LittleEndian.PutUint64(dst[8:], ^uint64(id))
	return uint32(uint64(id) * 16 % (memPageSize - 16 + 1))
}

// writePages commits one 16-byte delta to every page of ids.
func writePages(t *testing.T, ctx context.Context, e *mmsb.Bus, ids []mmsb.PageID) {
	t.Helper()
	ds := make([]delta.Delta, 0, memWriteBatch)
	runs := make([]delta.Run, memWriteBatch)
	data := make([][16]byte, memWriteBatch)
	for i, id := range ids {
		k := len(ds)
		off := stamp(id, &data[k])
		runs[k] = delta.Run{Offset: off, Data: data[k][:]}
		ds = append(ds, delta.Delta{Page: id, Runs: runs[k : k+1]})
		if len(ds) == memWriteBatch || i == len(ids)-1 {
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatalf("write pages: %v", err)
			}
			ds = ds[:0]
		}
	}
}

// checkPages reads back every stride-th page and compares it with what
// writePages wrote (the rest of the page must still be zero).
func checkPages(t *testing.T, e *mmsb.Bus, ids []mmsb.PageID, stride int) {
	t.Helper()
	want := make([]byte, memPageSize)
	var s [16]byte
	var buf []byte
	for i := 0; i < len(ids); i += stride {
		id := ids[i]
		clear(want)
		off := stamp(id, &s)
		copy(want[off:], s[:])
		var err error
		buf, _, err = e.ReadPage(id, buf[:0])
		if err != nil {
			t.Fatalf("read page %d: %v", id, err)
		}
		if !bytes.Equal(buf, want) {
			t.Fatalf("page %d does not hold what was written", id)
		}
	}
}

// TestMemory creates -stress.pages pages (1,000,000 by default) of 1 KiB
// through the bus, writes every one, and checks that process RSS grew by
// at most 1 GiB (scaled for smaller runs). It prints RSS, the per-page
// cost beyond the page's own bytes, and the largest GC pause.
func TestMemory(t *testing.T) {
	ctx := context.Background()
	n := *flagPages
	requireWorkload(t, "stress.pages", n, 1)
	rss0 := settledRSS(t)
	pauses0 := harness.ReadGCPauses()
	e := openDisk(t)
	defer e.Close()

	t0 := time.Now()
	ids := createPages(t, ctx, e, n)
	createSec := time.Since(t0).Seconds()
	t0 = time.Now()
	writePages(t, ctx, e, ids)
	writeSec := time.Since(t0).Seconds()
	checkPages(t, e, ids, 997)
	// The pauses of this phase, read before settledRSS: its forced
	// collections are no part of it, and a cycle the phase left marking
	// is (harness.PhasePauses). The figure was read after settledRSS, so
	// that it took in the forced collections' pauses.
	pause, _, _ := harness.PhasePauses(pauses0)

	rss := settledRSS(t)
	growth := rss - rss0
	st := e.Stats()
	if st.Pages != n || st.LogicalBytes != int64(n)*memPageSize {
		t.Fatalf("stats: %d pages, %d logical bytes; want %d and %d", st.Pages, st.LogicalBytes, n, int64(n)*memPageSize)
	}
	budget := max(int64(memBudget1M)*int64(n)/1_000_000, 64<<20)
	figure(t, "memory", "pages", n, "rss_before", mib(rss0), "rss_after", mib(rss), "rss_growth", mib(growth),
		"budget", mib(budget), "growth_per_page_bytes", growth/int64(n),
		"overhead_per_page_bytes", (growth-st.LogicalBytes)/int64(n),
		"arena", mib(st.Store.ArenaBytes), "slot_meta", mib(st.Store.MetaBytes), "heap", mib(int64(st.HeapBytes)),
		"create_seconds", round3(createSec), "write_seconds", round3(writeSec),
		"gc_pause_max", pause)
	if growth > budget {
		t.Errorf("RSS grew by %s for %d pages of %d bytes, budget %s", mib(growth), n, memPageSize, mib(budget))
	}
	if st.Store.ArenaBytes < st.LogicalBytes {
		t.Errorf("arena %d bytes holds fewer than the %d logical bytes", st.Store.ArenaBytes, st.LogicalBytes)
	}
}

// TestMemoryBursts creates and frees 100,000 pages 20 times on one bus:
// freed cells must be reused, so the arena after the bursts may not exceed
// the first round's peak (plus one growth step), and RSS stays bounded.
func TestMemoryBursts(t *testing.T) {
	ctx := context.Background()
	e := openDisk(t)
	defer e.Close()
	rss0 := settledRSS(t)
	var firstArena, firstRSS, maxArena, maxRSS int64
	var freeTime, maxPause time.Duration
	// phase charges the GC pauses since begin to the bursts (creating and
	// writing, freeing), read before settledRSS forces its collections:
	// harness.MaxGCPause, the longest since the process started, took in
	// theirs and every earlier test's.
	phase := func(begin harness.GCPauses) {
		p, _, _ := harness.PhasePauses(begin)
		maxPause = max(maxPause, p)
	}
	for round := 1; round <= burstRounds; round++ {
		begin := harness.ReadGCPauses()
		ids := createPages(t, ctx, e, burstPages)
		writePages(t, ctx, e, ids)
		phase(begin)
		st := e.Stats()
		rss := settledRSS(t)
		if round == 1 {
			firstArena, firstRSS = st.Store.ArenaBytes, rss
		}
		maxArena, maxRSS = max(maxArena, st.Store.ArenaBytes), max(maxRSS, rss)
		checkPages(t, e, ids, 101)
		begin = harness.ReadGCPauses()
		t0 := time.Now()
		for _, id := range ids {
			if err := e.FreePage(ctx, id); err != nil {
				t.Fatalf("round %d: free page %d: %v", round, id, err)
			}
		}
		freeTime += time.Since(t0)
		phase(begin)
		after := e.Stats()
		rssFreed := settledRSS(t)
		if after.Pages != 0 {
			t.Fatalf("round %d: %d pages left after freeing all", round, after.Pages)
		}
		if round == 1 || round == burstRounds || round%5 == 0 {
			figure(t, "memory_burst", "round", round, "arena_peak", mib(st.Store.ArenaBytes),
				"arena_free_after", mib(after.Store.ArenaFree), "slot_meta", mib(after.Store.MetaBytes),
				"rss_peak", mib(rss), "rss_after_free", mib(rssFreed), "rss_growth", mib(rss-rss0))
		}
	}
	final := e.Stats()
	figure(t, "memory_bursts", "rounds", burstRounds, "pages_per_round", burstPages,
		"arena_first_peak", mib(firstArena), "arena_max", mib(maxArena), "arena_final", mib(final.Store.ArenaBytes),
		"rss_first_peak", mib(firstRSS), "rss_max", mib(maxRSS),
		"free_per_page_us", round3(freeTime.Seconds()*1e6/float64(burstRounds*burstPages)),
		"gc_pause_max", maxPause)
	if maxArena > firstArena+burstArenaSlack || final.Store.ArenaBytes > firstArena+burstArenaSlack {
		t.Errorf("arena grew across bursts: first peak %s, max %s, final %s (slack %s): freed cells are not reused",
			mib(firstArena), mib(maxArena), mib(final.Store.ArenaBytes), mib(burstArenaSlack))
	}
	if maxRSS > firstRSS+burstRSSSlack {
		t.Errorf("RSS grew across bursts: first peak %s, max %s (slack %s)", mib(firstRSS), mib(maxRSS), mib(burstRSSSlack))
	}
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
