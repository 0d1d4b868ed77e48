package mmsb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// A bus recovered from its log tail (no checkpoint since the waves) knows
// what waits for propagation exactly as the bus that wrote the log did:
// each wave's record ends with a wave op (record.OpWave) naming the dirty
// and retry sets it left. Before, replay counted every page written in the
// tail as dirty and every page bound there as not yet computed: after a
// restart Pending was 2 instead of 0, and the first wave recomputed d and
// raised FlagStale on c again, which the user had cleared.
func TestPendingAfterRestartFromLog(t *testing.T) {
	for _, crash := range []bool{false, true} {
		name := "clean close"
		if crash {
			name = "crash image"
		}
		t.Run(name, func(t *testing.T) {
			fs := vfs.NewMem()
			e := openT(t, "/bus", &Options{FS: fs, CheckpointBytes: -1, Functions: copyFuncs()})
			a, d, c := waveScenario(t, e)
			if got := e.Pending(); got != 0 {
				t.Fatalf("Pending before the restart = %d, want 0", got)
			}
			if crash {
				img := fs.CrashClone()
				e.Close()
				fs = img
			} else if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = openT(t, "/bus", &Options{FS: fs, CheckpointBytes: -1, Functions: copyFuncs()})
			defer e.Close()
			if rec := e.Recovery(); rec.CheckpointLSN != 0 {
				t.Fatalf("recovered from a checkpoint at LSN %d: the test wants the log alone", rec.CheckpointLSN)
			}
			if got := e.Pending(); got != 0 {
				t.Fatalf("Pending after the restart = %d, want 0 (pages %d and %d were propagated)", got, a, d)
			}
			r, err := e.Propagate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.Recomputed != 0 || len(r.Writes) != 0 || len(r.Flags) != 0 || r.FirstLSN != 0 {
				t.Fatalf("first wave after the restart: %+v; want nothing recomputed, raised or logged", r)
			}
			if f, err := e.Flags(c); err != nil || f != 0 {
				t.Fatalf("flags of page %d after the wave = %#x, %v; want 0 (cleared before the restart)", c, f, err)
			}
		})
	}
}

// waveScenario builds the defect's scenario on e: a feeds derived page d
// (Data edge, bound to "copy") and has a Control edge to c; a is written,
// a wave propagates it, and c's FlagStale is cleared.
func waveScenario(t *testing.T, e *Bus) (a, d, c PageID) {
	t.Helper()
	ids := mustCreate(t, e, 3, 8)
	a, d, c = ids[0], ids[1], ids[2]
	if err := e.Bind(ctx, d, "copy", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, a, c, EdgeControl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(a, 0, "a")}); err != nil {
		t.Fatal(err)
	}
	r, err := e.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Writes) != 1 || len(r.Flags) != 1 {
		t.Fatalf("scenario wave wrote %+v and raised %+v; want d written and c flagged", r.Writes, r.Flags)
	}
	if err := e.ClearFlags(ctx, c, FlagStale); err != nil {
		t.Fatal(err)
	}
	return a, d, c
}

// copyFuncs registers "copy": out = in[0] (same sizes here).
func copyFuncs() map[string]RecomputeFunc {
	return map[string]RecomputeFunc{"copy": func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil }}
}

// A log written before the wave op existed (payload version 1, no wave
// op) is read as before: recovery cannot tell what its waves consumed, so
// it keeps every page written in the tail dirty and every page bound there
// to compute, and the first wave does that work again (what
// ScheduleResync's doc tells orchestrators to expect).
func TestPendingAfterRestartFromOldLog(t *testing.T) {
	fs := vfs.NewMem()
	e := openT(t, "/bus", &Options{FS: fs, CheckpointBytes: -1, Functions: copyFuncs()})
	ids := mustCreate(t, e, 3, 8)
	a, d, c := ids[0], ids[1], ids[2]
	if err := e.Bind(ctx, d, "copy", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, a, c, EdgeControl); err != nil {
		t.Fatal(err)
	}
	ci, err := e.Commit(ctx, []delta.Delta{w(a, 0, "a")})
	if err != nil {
		t.Fatal(err)
	}
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// The wave and the flag clearing, as a binary of before the wave op
	// logged them: a version 1 record of d's derived delta and c's flag,
	// then c's flags cleared.
	l, _, err := tlog.Open(tlog.Options{FS: fs, Dir: "/bus/wal"}, 1<<62, func(*tlog.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	now := int64(1_800_000_000_000_000_000)
	derived := delta.Delta{Page: d, Runs: []delta.Run{{Offset: 0, Data: []byte("a")}}, Source: PropagationSource}
	wave := record.AppendHeader(nil, now)
	wave = record.AppendDerived(wave, []record.ParentRead{{Page: a, LSN: ci.FirstLSN}}, &derived)
	wave = record.AppendFlags(wave, c, FlagStale)
	clearRec := record.AppendFlags(record.AppendHeader(nil, now+1), c, 0)
	for i, rec := range [][]byte{wave, clearRec} {
		n := uint32(2 - i)
		tk, err := l.Append(last+1, n, rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Wait(ctx, tk); err != nil {
			t.Fatal(err)
		}
		last += LSN(n)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	e = openT(t, "/bus", &Options{FS: fs, CheckpointBytes: -1, Functions: copyFuncs()})
	defer e.Close()
	if e.LastLSN() != last {
		t.Fatalf("recovered to LSN %d, want %d", e.LastLSN(), last)
	}
	if got := e.Pending(); got != 2 {
		t.Fatalf("Pending after recovering an old log = %d, want 2 (a written, d bound in the tail)", got)
	}
	r, err := e.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Recomputed != 1 || len(r.Flags) != 1 || r.Flags[0].Page != c {
		t.Fatalf("first wave after an old log: %+v; want d recomputed and c flagged again", r)
	}
}

// A page written while a wave computes (its function runs without the
// lock) stays dirty after the wave, and the wave op names it: recovered,
// the bus has it dirty too, and not the pages the wave consumed.
func TestWaveOpKeepsPagesWrittenWhileItComputed(t *testing.T) {
	fs := vfs.NewMem()
	entered, release := make(chan struct{}), make(chan struct{})
	slow := func(in [][]byte, _ []byte, out []byte) error {
		select {
		case entered <- struct{}{}:
			<-release
		default:
		}
		copy(out, in[0])
		return nil
	}
	opts := func() *Options {
		return &Options{FS: fs, CheckpointBytes: -1, Functions: map[string]RecomputeFunc{"slow": slow}}
	}
	e := openT(t, "/bus", opts())
	ids := mustCreate(t, e, 4, 8)
	a, d, x, y := ids[0], ids[1], ids[2], ids[3]
	if err := e.Bind(ctx, d, "slow", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, x, y, EdgeControl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{w(a, 0, "a")}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := e.Propagate(ctx); done <- err }()
	<-entered
	if _, err := e.Commit(ctx, []delta.Delta{w(x, 0, "x")}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := e.Pending(); got != 1 {
		t.Fatalf("Pending after the wave = %d, want 1 (page %d, written while it computed)", got, x)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openT(t, "/bus", opts())
	defer e.Close()
	if got := e.Pending(); got != 1 {
		t.Fatalf("Pending after the restart = %d, want 1 (page %d)", got, x)
	}
	r, err := e.Propagate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Roots != 1 || r.Recomputed != 0 || len(r.Flags) != 1 || r.Flags[0].Page != y {
		t.Fatalf("wave after the restart: %+v; want x's Control edge to flag y, nothing recomputed", r)
	}
}

// Replay equals live for what waits for propagation: a bus that restarts
// (a clean close, a crash image, or after a checkpoint) now and then
// answers Pending, the flags and the pages' bytes as a bus given the same
// operations that never restarted, and its waves do the same work.
func TestPropagationSetsReplayEqualsLive(t *testing.T) {
	var held, restarts, logged int
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			h, r, l := checkWaveReplayEqualsLive(t, seed)
			held, restarts, logged = held+h, restarts+r, logged+l
		})
	}
	// The property says something only if waves held pages back, the bus
	// restarted, and waves were logged between restarts.
	if held == 0 || restarts == 0 || logged == 0 {
		t.Fatalf("%d waves held pages back, %d restarts, %d waves logged: the operations exercise too little", held, restarts, logged)
	}
}

// checkWaveReplayEqualsLive runs one seed's operations and returns how many
// waves held pages back, how many times the bus restarted, and how many
// waves were logged.
func checkWaveReplayEqualsLive(t *testing.T, seed uint64) (held, restarts, logged int) {
	rng := rand.New(rand.NewPCG(seed, 7))
	// "odd" fails on an odd first input byte: held-back pages, retried
	// by the waves that follow, on both buses alike.
	fns := map[string]RecomputeFunc{
		"sum": func(in [][]byte, _ []byte, out []byte) error {
			var s byte
			for _, b := range in {
				s += b[0]
			}
			out[0] = s
			return nil
		},
		"odd": func(in [][]byte, _ []byte, out []byte) error {
			if in[0][0]%2 == 1 {
				return errors.New("odd input")
			}
			copy(out, in[0])
			return nil
		},
	}
	fs := vfs.NewMem()
	opts := func() *Options { return &Options{FS: fs, CheckpointBytes: -1, Functions: fns} }
	disk := openT(t, "/bus", opts())
	defer func() { disk.Close() }()
	live := openMem(t, &Options{Functions: fns})
	const n = 8
	both := func(f func(e *Bus) error) {
		t.Helper()
		errD, errL := f(disk), f(live)
		if (errD == nil) != (errL == nil) {
			t.Fatalf("seed %d: bus with restarts: %v; bus without: %v", seed, errD, errL)
		}
	}
	specs := make([]PageSpec, n)
	for i := range specs {
		specs[i] = PageSpec{Size: 4}
	}
	both(func(e *Bus) error { _, err := e.CreatePages(ctx, specs); return err })
	ids := make([]PageID, n)
	for i := range ids {
		ids[i] = PageID(i + 1)
	}
	// Pages 1-3 are sources, 4-8 derived or flagged in a fixed random graph.
	for _, c := range []PageID{4, 5, 6, 7} {
		fn := "sum"
		if rng.IntN(2) == 0 {
			fn = "odd"
		}
		par := []PageID{PageID(1 + rng.IntN(int(c)-1))}
		if fn == "sum" && c > 4 {
			par = append(par, PageID(1+rng.IntN(int(c)-1)))
			if par[1] == par[0] {
				par = par[:1]
			}
		}
		both(func(e *Bus) error { return e.Bind(ctx, c, fn, nil, par) })
	}
	for k := 0; k < 3; k++ {
		p, c := PageID(1+rng.IntN(7)), PageID(8)
		typ := []EdgeType{EdgeControl, EdgeGPUSync, EdgeCompiler}[k]
		both(func(e *Bus) error { return e.AddEdge(ctx, p, c, typ) })
	}
	for step := 0; step < 60; step++ {
		switch op := rng.IntN(10); {
		case op < 4:
			p, v := PageID(1+rng.IntN(3)), byte(rng.IntN(4))
			both(func(e *Bus) error {
				_, err := e.Commit(ctx, []delta.Delta{{Page: p, Runs: []delta.Run{{Data: []byte{v}}}}})
				return err
			})
		case op < 7:
			var rd, rl PropagateResult
			errD, errL := disk.PropagateInto(ctx, &rd), live.PropagateInto(ctx, &rl)
			if (errD == nil) != (errL == nil) || rd.Recomputed != rl.Recomputed || len(rd.Writes) != len(rl.Writes) ||
				len(rd.Flags) != len(rl.Flags) || rd.HeldBack != rl.HeldBack {
				t.Fatalf("seed %d step %d: wave with restarts %+v, %v; without %+v, %v", seed, step, rd, errD, rl, errL)
			}
			if rd.HeldBack > 0 {
				held++
			}
			if rd.FirstLSN != 0 {
				logged++
			}
		case op < 8:
			p := PageID(1 + rng.IntN(n))
			both(func(e *Bus) error { return e.ClearFlags(ctx, p, 0xff) })
		default:
			switch rng.IntN(3) {
			case 0:
				if err := disk.Close(); err != nil {
					t.Fatal(err)
				}
			case 1:
				img := fs.CrashClone()
				disk.Close()
				fs = img
			case 2:
				if _, err := disk.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
				if err := disk.Close(); err != nil {
					t.Fatal(err)
				}
			}
			disk = openT(t, "/bus", opts())
			restarts++
		}
		if pd, pl := disk.Pending(), live.Pending(); pd != pl {
			t.Fatalf("seed %d step %d: Pending %d with restarts, %d without", seed, step, pd, pl)
		}
		for _, id := range ids {
			fd, _ := disk.Flags(id)
			fl, _ := live.Flags(id)
			bd, _, _ := disk.ReadPage(id, nil)
			bl, _, _ := live.ReadPage(id, nil)
			if fd != fl || string(bd) != string(bl) {
				t.Fatalf("seed %d step %d: page %d flags %#x bytes %x with restarts, %#x %x without", seed, step, id, fd, bd, fl, bl)
			}
		}
	}
	return held, restarts, logged
}

// A follower applies the leader's wave ops (ApplyReplicated goes through
// applyOps, as recovery does): it waits for what the leader waits for, a
// held-back page included, so a promoted follower's first wave does the
// leader's next one. A wave op that names a page the follower has not bound
// is refused before anything of its record is applied.
func TestFollowerWaitsForWhatTheLeaderWaitsFor(t *testing.T) {
	fail := false
	fns := copyFuncs()
	fns["flaky"] = func(in [][]byte, _ []byte, out []byte) error {
		if fail {
			return errors.New("refused on purpose")
		}
		copy(out, in[0])
		return nil
	}
	rep := &fakeReplicator{}
	leader := openMem(t, &Options{Replicator: rep, Sync: SyncReplicated, Functions: fns})
	a, _, _ := waveScenario(t, leader)
	ids := mustCreate(t, leader, 1, 8)
	if err := leader.Bind(ctx, ids[0], "flaky", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	fail = true
	if _, err := leader.Commit(ctx, []delta.Delta{w(a, 0, "b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Propagate(ctx); !errors.Is(err, ErrRecompute) {
		t.Fatalf("wave with a failing function: %v, want ErrRecompute", err)
	}
	if got := leader.Pending(); got != 1 {
		t.Fatalf("leader Pending = %d, want 1 (page %d held back)", got, ids[0])
	}
	follower := openT(t, t.TempDir(), &Options{Follower: true, Functions: fns})
	defer follower.Close()
	recs := rep.records()
	for i := range recs {
		if err := follower.ApplyReplicated(ctx, &recs[i]); err != nil {
			t.Fatalf("apply record %d: %v", i, err)
		}
	}
	if got := follower.Pending(); got != 1 {
		t.Fatalf("follower Pending = %d, want the leader's 1 (page %d held back)", got, ids[0])
	}
	last := recs[len(recs)-1].LastLSN
	bad := record.AppendWave(record.AppendWaveHeader(nil, 1_900_000_000_000_000_000), nil, []PageID{a})
	err := follower.ApplyReplicated(ctx, &ReplicatedRecord{FirstLSN: last + 1, LastLSN: last + 1, Payload: bad})
	if !errors.Is(err, ErrNotDerived) {
		t.Fatalf("wave op holding back page %d, which is not bound: %v, want ErrNotDerived", a, err)
	}
	if got := follower.Pending(); got != 1 || follower.LastLSN() != last {
		t.Fatalf("after the refused record: Pending %d at LSN %d, want 1 at LSN %d", got, follower.LastLSN(), last)
	}
}
