package mmsb

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// gate is a recompute function that stops in every call until released:
// out = inputs[0] + 1, byte by byte (all inputs summed when there are
// several). started receives once per call; calls counts them.
type gate struct {
	started chan struct{}
	release chan struct{}
	calls   atomic.Int64
	open    atomic.Bool // calls pass without stopping (and are not counted)
	once    sync.Once
}

// free releases every call, now and later.
func (g *gate) free() { g.once.Do(func() { close(g.release) }) }

func newGate() *gate {
	return &gate{started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (g *gate) fn(inputs [][]byte, _ []byte, out []byte) error {
	if g.open.Load() {
		plusOne(inputs, out)
		return nil
	}
	g.calls.Add(1)
	select {
	case g.started <- struct{}{}:
	default:
	}
	<-g.release
	plusOne(inputs, out)
	return nil
}

// plusOne writes out[i] = 1 + the sum of the inputs' byte i.
func plusOne(inputs [][]byte, out []byte) {
	for i := range out {
		v := byte(1)
		for _, in := range inputs {
			v += in[i]
		}
		out[i] = v
	}
}

// waitDone fails the test if done does not close within a bound long
// enough to mean "blocked" (a commit normally returns in microseconds).
func waitDone(t *testing.T, what string, done <-chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not return while a recompute function was running: it waits for the function", what)
	}
}

// duringWave runs f, which must not wait for the wave, while a function
// of the wave is stopped, and fails the test if f blocks or fails.
func duringWave(t *testing.T, what string, f func() error) {
	t.Helper()
	done := make(chan struct{})
	var err error
	go func() { defer close(done); err = f() }()
	waitDone(t, what, done)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// settleOpen runs the waves pending (the binds' own) with the gate open.
func settleOpen(t *testing.T, e *Bus, g *gate) {
	t.Helper()
	g.open.Store(true)
	defer g.open.Store(false)
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
}

// waveHoldsLock reports, from inside a recompute function, whether its
// wave holds the bus's lock (a wave computed again, or under the lock from
// the start) or calls it without (tests in which nothing else takes the
// lock while a call starts).
func waveHoldsLock(e *Bus) bool {
	if e.mu.TryLock() {
		e.mu.Unlock()
		return false
	}
	return true
}

// readByte returns byte 0 of page id.
func readByte(t *testing.T, e *Bus, id PageID) byte {
	t.Helper()
	b, _, err := e.ReadPage(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b[0]
}

// gateFixture opens a bus with page a, derived page d = a+1 through the
// gate, and a plain page u; a is written (7) and not yet propagated.
func gateFixture(t *testing.T) (e *Bus, g *gate, a, d, u PageID) {
	t.Helper()
	g = newGate()
	e = openMem(t, &Options{Functions: map[string]RecomputeFunc{"gate": g.fn}})
	ids := mustCreate(t, e, 3, 8)
	a, d, u = ids[0], ids[1], ids[2]
	if err := e.Bind(ctx, d, "gate", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{7})}); err != nil {
		t.Fatal(err)
	}
	return e, g, a, d, u
}

// startWave runs Propagate in a goroutine and waits until its function
// runs. The returned channel yields the wave's result once released.
func startWave(t *testing.T, e *Bus, g *gate) <-chan error {
	t.Helper()
	res := make(chan error, 1)
	t.Cleanup(g.free) // a failed test must not leave the wave (and Close) waiting
	go func() { _, err := e.Propagate(ctx); res <- err }()
	select {
	case <-g.started:
	case err := <-res:
		t.Fatalf("Propagate returned %v before calling the function", err)
	}
	return res
}

// TestRecomputeRunsWithoutTheLock: while a recompute function runs,
// commits, reads and queries of the bus go on; the wave, whose inputs
// nobody wrote, is logged after the commit that overtook it, naming the
// LSN of the parent it read.
func TestRecomputeRunsWithoutTheLock(t *testing.T) {
	e, g, a, d, u := gateFixture(t)
	aLSN := e.LastLSN()
	res := startWave(t, e, g)

	done := make(chan struct{})
	var commitErr, readErr error
	var pending int
	go func() {
		defer close(done)
		_, commitErr = e.Commit(ctx, []Delta{Write(u, 0, []byte{9})})
		if commitErr == nil {
			_, _, readErr = e.ReadPage(a, nil)
			pending = e.Pending()
		}
	}()
	waitDone(t, "Commit, ReadPage and Pending", done)
	if commitErr != nil || readErr != nil {
		t.Fatalf("commit %v, read %v while the function ran", commitErr, readErr)
	}
	if pending != 2 {
		t.Fatalf("Pending while the wave ran = %d, want 2 (page a, written, and page d, bound and not yet computed)", pending)
	}
	uLSN := e.LastLSN()
	g.free()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("the function ran %d times, want 1 (nothing it read changed)", n)
	}
	if got := readByte(t, e, d); got != 8 {
		t.Fatalf("d = %d, want 8", got)
	}
	der, ok := e.LastDerivation(d)
	if !ok || der.LSN <= uLSN || len(der.Reads) != 1 || der.Reads[0].LSN != aLSN {
		t.Fatalf("derivation %+v, want one logged after the commit at %d, reading a at %d", der, uLSN, aLSN)
	}
	if p := e.Pending(); p != 0 {
		t.Fatalf("Pending after the wave = %d", p)
	}
	if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
		t.Fatalf("replay: %+v, %v", rep, err)
	}
}

// TestWaveComputedAgainWhenItsInputsChange: a wave whose parent was
// written, or whose graph changed (a control operation), while its
// function ran is computed again with the lock held, from the state as it
// is then; a write to a page the wave did not read leaves it valid and
// that page dirty for the next wave.
func TestWaveComputedAgainWhenItsInputsChange(t *testing.T) {
	for _, tc := range []struct {
		name      string
		during    func(e *Bus, a, u PageID) error
		calls     int64 // function calls of the wave
		d         byte  // d after the wave
		pendingAt int   // Pending after the wave
	}{
		{"parent written", func(e *Bus, a, _ PageID) error {
			_, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{20})})
			return err
		}, 2, 21, 0},
		{"page created", func(e *Bus, _, _ PageID) error {
			_, err := e.CreatePage(ctx, PageSpec{Size: 8})
			return err
		}, 2, 8, 0},
		{"edge added", func(e *Bus, a, u PageID) error {
			return e.AddEdge(ctx, u, a, EdgeControl)
		}, 2, 8, 0},
		{"unrelated page written", func(e *Bus, _, u PageID) error {
			_, err := e.Commit(ctx, []Delta{Write(u, 0, []byte{5})})
			return err
		}, 1, 8, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, g, a, d, u := gateFixture(t)
			res := startWave(t, e, g)
			duringWave(t, tc.name, func() error { return tc.during(e, a, u) })
			g.free()
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			if n := g.calls.Load(); n != tc.calls {
				t.Errorf("the function ran %d times, want %d", n, tc.calls)
			}
			if again := e.Metrics().WavesComputedAgain; again != uint64(tc.calls-1) {
				t.Errorf("Metrics().WavesComputedAgain = %d, want %d", again, tc.calls-1)
			}
			if got := readByte(t, e, d); got != tc.d {
				t.Errorf("d = %d, want %d", got, tc.d)
			}
			if p := e.Pending(); p != tc.pendingAt {
				t.Errorf("Pending after the wave = %d, want %d", p, tc.pendingAt)
			}
			if der, ok := e.LastDerivation(d); !ok || der.Reads[0].LSN != mustLastLSNOf(t, e, a) {
				t.Errorf("derivation %+v does not name a's last write", der)
			}
			if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
				t.Fatalf("replay: %+v, %v", rep, err)
			}
		})
	}
}

// mustLastLSNOf returns the LSN of page id's last write.
func mustLastLSNOf(t *testing.T, e *Bus, id PageID) LSN {
	t.Helper()
	info, err := e.Page(id)
	if err != nil {
		t.Fatal(err)
	}
	return info.LastLSN
}

// TestWaveLeavesPagesWrittenMeanwhileDirty: a root written while a wave
// computes, whose descendants the wave does not cover, stays dirty and
// the next wave computes its child.
func TestWaveLeavesPagesWrittenMeanwhileDirty(t *testing.T) {
	g := newGate()
	e := openMem(t, &Options{Functions: map[string]RecomputeFunc{"gate": g.fn, "plus": func(in [][]byte, _ []byte, out []byte) error {
		plusOne(in, out)
		return nil
	}}})
	ids := mustCreate(t, e, 4, 8)
	a, d, b, f := ids[0], ids[1], ids[2], ids[3]
	if err := e.Bind(ctx, d, "gate", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, f, "plus", nil, []PageID{b}); err != nil {
		t.Fatal(err)
	}
	settleOpen(t, e, g) // d = 1, f = 1
	if _, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	res := startWave(t, e, g)
	duringWave(t, "Commit of b", func() error {
		_, err := e.Commit(ctx, []Delta{Write(b, 0, []byte{40})})
		return err
	})
	g.free()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if got, p := readByte(t, e, f), e.Pending(); got != 1 || p != 1 {
		t.Fatalf("after the first wave f = %d, Pending %d; want 1 (not computed) and 1 (b dirty)", got, p)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if got, dv, p := readByte(t, e, f), readByte(t, e, d), e.Pending(); got != 41 || dv != 2 || p != 0 {
		t.Fatalf("after the second wave f = %d, d = %d, Pending %d; want 41, 2, 0", got, dv, p)
	}
}

// TestWavesWithConcurrentCommitsEqualFullRecompute: writers commit to the
// parents of a two-level graph while another goroutine runs waves; once
// they stop and the bus settles, every derived page equals its function
// of its parents (incremental equals full recomputation), and a replay of
// the log equals the state. Run with -race, it also checks that a wave
// computing without the lock touches nothing a commit writes.
func TestWavesWithConcurrentCommitsEqualFullRecompute(t *testing.T) {
	const n, size = 16, 64
	var calls atomic.Int64
	plus := func(in [][]byte, _ []byte, out []byte) error {
		calls.Add(1)
		runtime.Gosched() // let the writers in while the wave computes
		plusOne(in, out)
		return nil
	}
	e := openMem(t, &Options{Functions: map[string]RecomputeFunc{"plus": plus}})
	base := mustCreate(t, e, n, size)
	mid := mustCreate(t, e, n, size)
	top := mustCreate(t, e, n, size)
	for i := 0; i < n; i++ {
		// mid[i] = base[i] + 1; top[i] = mid[i] + base[(i+1)%n] + 1.
		if err := e.Bind(ctx, mid[i], "plus", nil, []PageID{base[i]}); err != nil {
			t.Fatal(err)
		}
		if err := e.Bind(ctx, top[i], "plus", nil, []PageID{mid[i], base[(i+1)%n]}); err != nil {
			t.Fatal(err)
		}
	}
	const commits = 400 // per writer
	var wg sync.WaitGroup
	var writing atomic.Int32
	errs := make(chan error, 8)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		writing.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			defer writing.Add(-1)
			rng := rand.New(rand.NewPCG(seed, 1))
			buf := make([]byte, size)
			for k := 0; k < commits; k++ {
				runtime.Gosched()
				for j := range buf {
					buf[j] = byte(rng.Uint32())
				}
				ds := []Delta{Write(base[rng.IntN(n)], 0, buf), Write(base[rng.IntN(n)], uint32(rng.IntN(size)), buf[:1])}
				if _, err := e.Commit(ctx, ds); err != nil {
					errs <- fmt.Errorf("writer commit %d: %w", k, err)
					return
				}
			}
		}(uint64(w))
	}
	waves := 0
	for writing.Load() > 0 {
		if _, err := e.Propagate(ctx); err != nil {
			t.Fatal(err)
		}
		waves++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for e.Pending() > 0 {
		if _, err := e.Propagate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	read := func(id PageID) []byte {
		b, _, err := e.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	want := make([]byte, size)
	for i := 0; i < n; i++ {
		plusOne([][]byte{read(base[i])}, want)
		if got := read(mid[i]); !bytes.Equal(got, want) {
			t.Fatalf("mid[%d] = %v, want %v", i, got[:4], want[:4])
		}
		plusOne([][]byte{read(mid[i]), read(base[(i+1)%n])}, want)
		if got := read(top[i]); !bytes.Equal(got, want) {
			t.Fatalf("top[%d] = %v, want %v", i, got[:4], want[:4])
		}
	}
	if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
		t.Fatalf("replay: %+v, %v", rep, err)
	}
	t.Logf("%d waves, %d function calls, %d waves computed again", waves, calls.Load(), e.Metrics().WavesComputedAgain)
}

// TestWaveNamesTheLSNOfAParentWrittenSinceItWasPlanned: a page the wave
// reads after a commit wrote it (while an earlier function of the wave
// ran) carries an LSN past the wave's planned first one. The wave is
// computed again, and the derivation names that parent's real last write
// (not an LSN moved along with the wave's own).
func TestWaveNamesTheLSNOfAParentWrittenSinceItWasPlanned(t *testing.T) {
	g := newGate()
	e := openMem(t, &Options{Functions: map[string]RecomputeFunc{"gate": g.fn, "plus": func(in [][]byte, _ []byte, out []byte) error {
		plusOne(in, out)
		return nil
	}}})
	ids := mustCreate(t, e, 4, 8)
	a, d, u, d2 := ids[0], ids[1], ids[2], ids[3] // d2 after d in the wave's order
	if err := e.Bind(ctx, d, "gate", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, d2, "plus", nil, []PageID{a, u}); err != nil {
		t.Fatal(err)
	}
	settleOpen(t, e, g)
	if _, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{7})}); err != nil {
		t.Fatal(err)
	}
	res := startWave(t, e, g)
	duringWave(t, "Commit of u", func() error {
		_, err := e.Commit(ctx, []Delta{Write(u, 0, []byte{9})})
		return err
	})
	uLSN := e.LastLSN()
	g.free()
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	if got := readByte(t, e, d2); got != 17 {
		t.Fatalf("d2 = %d, want 17 (7 + 9 + 1)", got)
	}
	der, ok := e.LastDerivation(d2)
	if !ok || len(der.Reads) != 2 || der.Reads[1].Page != u || der.Reads[1].LSN != uLSN {
		t.Fatalf("derivation of d2 %+v, want it to read u at %d", der, uLSN)
	}
	if again := e.Metrics().WavesComputedAgain; again != 1 {
		t.Fatalf("Metrics().WavesComputedAgain = %d, want 1", again)
	}
	if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
		t.Fatalf("replay: %+v, %v", rep, err)
	}
}

// TestCloseWhileAWaveComputes: Close returns while a recompute function
// is stopped in its call (the wave holds no lock), and the wave then ends
// with ErrClosed, logging nothing.
func TestCloseWhileAWaveComputes(t *testing.T) {
	e, g, _, _, _ := gateFixture(t)
	last := e.LastLSN()
	res := startWave(t, e, g)
	duringWave(t, "Close", e.Close)
	g.free()
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Fatalf("the wave returned %v, want ErrClosed", err)
	}
	if got := e.LastLSN(); got != last {
		t.Fatalf("LastLSN after the closed wave = %d, want %d", got, last)
	}
}

// TestWaveAfterAStaleOneComputesUnderTheLock: once a wave went stale (a
// writer overtook it) and had to be computed again whole, the next wave
// is computed under the lock from the start, once, instead of twice; the
// one after tries without the lock again. Each call records whether the
// wave held the bus's lock: nothing else takes it while a call starts.
func TestWaveAfterAStaleOneComputesUnderTheLock(t *testing.T) {
	var cur atomic.Pointer[gate]
	cur.Store(newGate())
	var e *Bus
	var mu sync.Mutex
	var calls []string // per call of the current wave: "locked" or "unlocked"
	e = openMem(t, &Options{Functions: map[string]RecomputeFunc{"gate": func(in [][]byte, params []byte, out []byte) error {
		state := "unlocked"
		if waveHoldsLock(e) {
			state = "locked"
		}
		mu.Lock()
		calls = append(calls, state)
		mu.Unlock()
		return cur.Load().fn(in, params, out)
	}}})
	lockStates := func() string {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Sprint(calls)
	}
	ids := mustCreate(t, e, 3, 8)
	a, d, u := ids[0], ids[1], ids[2]
	if err := e.Bind(ctx, d, "gate", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	settleOpen(t, e, cur.Load())
	write := func(id PageID, v byte) func() error {
		return func() error {
			_, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{v})})
			return err
		}
	}
	// wave runs one wave through a fresh gate while during runs, and
	// returns how many times the function ran.
	wave := func(during func()) int64 {
		g := newGate()
		cur.Store(g)
		mu.Lock()
		calls = nil
		mu.Unlock()
		res := startWave(t, e, g)
		during()
		g.free()
		if err := <-res; err != nil {
			t.Fatal(err)
		}
		return g.calls.Load()
	}

	if err := write(a, 7)(); err != nil {
		t.Fatal(err)
	}
	if n := wave(func() { duringWave(t, "Commit of a", write(a, 20)) }); n != 2 {
		t.Fatalf("the stale wave ran the function %d times, want 2", n)
	}

	if got := lockStates(); got != "[unlocked locked]" {
		t.Fatalf("the stale wave's calls ran %s, want [unlocked locked]", got)
	}

	if err := write(a, 30)(); err != nil {
		t.Fatal(err)
	}
	if n := wave(func() {}); n != 1 {
		t.Fatalf("the wave after the stale one ran the function %d times, want 1", n)
	}
	if got := lockStates(); got != "[locked]" {
		t.Fatalf("the wave after the stale one ran its call %s, want [locked]", got)
	}
	if got, p := readByte(t, e, d), e.Pending(); got != 31 || p != 0 {
		t.Fatalf("after the locked wave d = %d, Pending %d; want 31 and 0", got, p)
	}

	if err := write(a, 40)(); err != nil {
		t.Fatal(err)
	}
	if n := wave(func() { duringWave(t, "Commit of u", write(u, 5)) }); n != 1 {
		t.Fatalf("the next wave ran the function %d times, want 1", n)
	}
	if got := lockStates(); got != "[unlocked]" {
		t.Fatalf("the next wave ran its call %s, want [unlocked]", got)
	}
	if got := readByte(t, e, d); got != 41 {
		t.Fatalf("d = %d, want 41", got)
	}
	if again := e.Metrics().WavesComputedAgain; again != 1 {
		t.Fatalf("Metrics().WavesComputedAgain = %d, want 1", again)
	}
}

// TestStaleWaveKeepsWhatItsWritersDidNotTouch: a wave that went stale
// because a writer wrote one of its inputs while it computed is computed
// again under the lock, calling only the functions whose inputs changed
// (or that follow one that did); the first try's other results are kept,
// changed pages and cutoffs alike. As less than half of it was computed
// twice, the next wave computes without the lock again.
func TestStaleWaveKeepsWhatItsWritersDidNotTouch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b     byte // b's value for the wave (0: d2's result is its bytes already, a cutoff)
		d2    byte
		gcCnt int64 // d3's function calls in the wave
	}{
		{"changed page kept", 5, 6, 1},
		{"cutoff kept", 0, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cur atomic.Pointer[gate]
			cur.Store(newGate())
			var gaCalls, gcCalls, gdCalls, geCalls atomic.Int64
			var gbLocked atomic.Bool
			var e *Bus
			counted := func(n *atomic.Int64) RecomputeFunc {
				return func(in [][]byte, _ []byte, out []byte) error {
					n.Add(1)
					plusOne(in, out)
					return nil
				}
			}
			e = openMem(t, &Options{Functions: map[string]RecomputeFunc{
				"ga": counted(&gaCalls), "gc": counted(&gcCalls), "gd": counted(&gdCalls), "ge": counted(&geCalls),
				"gb": func(in [][]byte, params []byte, out []byte) error {
					gbLocked.Store(waveHoldsLock(e))
					return cur.Load().fn(in, params, out)
				},
			}})
			ids := mustCreate(t, e, 8, 8)
			a, b, d1, d2, d3, d4 := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]
			// e1 and e2 (= b + 1, like d2) make the part of the wave that a
			// depends on (d1, d4) its smaller part.
			for _, bd := range []struct {
				page, parent PageID
				fn           string
			}{{d1, a, "ga"}, {d2, b, "gb"}, {d3, d2, "gc"}, {d4, d1, "gd"}, {ids[6], b, "ge"}, {ids[7], b, "ge"}} {
				if err := e.Bind(ctx, bd.page, bd.fn, nil, []PageID{bd.parent}); err != nil {
					t.Fatal(err)
				}
			}
			settleOpen(t, e, cur.Load()) // d1 = 1, d2 = 1, d3 = 2, d4 = 2
			if _, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{7}), Write(b, 0, []byte{tc.b})}); err != nil {
				t.Fatal(err)
			}
			gaCalls.Store(0)
			gcCalls.Store(0)
			gdCalls.Store(0)
			geCalls.Store(0)
			callsBefore := e.Metrics().PagesRecomputed
			g := cur.Load()
			res := startWave(t, e, g) // stopped in d2's function
			duringWave(t, "Commit of a", func() error {
				_, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{20})})
				return err
			})
			aLSN := e.LastLSN()
			g.free()
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			if n := g.calls.Load(); n != 1 {
				t.Errorf("d2's function ran %d times, want 1 (b was not written while the wave computed)", n)
			}
			if n := gcCalls.Load(); n != tc.gcCnt {
				t.Errorf("d3's function ran %d times, want %d", n, tc.gcCnt)
			}
			if n := geCalls.Load(); n != 2 {
				t.Errorf("e1's and e2's function ran %d times, want 2", n)
			}
			if again := e.Metrics().WavesComputedAgain; again != 1 {
				t.Errorf("Metrics().WavesComputedAgain = %d, want 1", again)
			}
			calls := uint64(g.calls.Load() + gaCalls.Load() + gcCalls.Load() + gdCalls.Load() + geCalls.Load())
			if got := e.Metrics().PagesRecomputed - callsBefore; got != calls {
				t.Errorf("Metrics().PagesRecomputed grew by %d, want %d (the calls made)", got, calls)
			}
			want := map[PageID]byte{d1: 21, d2: tc.d2, d3: tc.d2 + 1, d4: 22, ids[6]: tc.d2, ids[7]: tc.d2}
			for _, id := range []PageID{d1, d2, d3, d4, ids[6], ids[7]} {
				if got := readByte(t, e, id); got != want[id] {
					t.Errorf("page %d = %d, want %d", id, got, want[id])
				}
			}
			if der, ok := e.LastDerivation(d1); !ok || der.Reads[0].LSN != aLSN {
				t.Errorf("derivation of d1 %+v, want it to read a at %d", der, aLSN)
			}
			if p := e.Pending(); p != 0 {
				t.Errorf("Pending after the wave = %d", p)
			}
			if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
				t.Fatalf("replay: %+v, %v", rep, err)
			}

			// The next wave computes without the lock: its call starts
			// without it, and a commit returns while it is stopped.
			if _, err := e.Commit(ctx, []Delta{Write(b, 0, []byte{30})}); err != nil {
				t.Fatal(err)
			}
			g = newGate()
			cur.Store(g)
			res = startWave(t, e, g)
			if gbLocked.Load() {
				t.Fatal("the next wave called d2's function with the lock held")
			}
			duringWave(t, "Commit of a in the next wave", func() error {
				_, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{40})})
				return err
			})
			g.free()
			if err := <-res; err != nil {
				t.Fatal(err)
			}
			if got := readByte(t, e, d3); got != 32 {
				t.Errorf("d3 after the next wave = %d, want 32", got)
			}
		})
	}
}

// TestPropertyStaleWavesEqualFullRecompute: on random graphs of derived
// pages (functions that change their output, and one that mostly cuts
// off), commits to random roots land while a random function of a wave
// runs without the lock, so waves go stale at random points and are
// computed again keeping part of their first try. Once the bus settles,
// every derived page equals its function of its parents (incremental
// equals full recomputation) and a replay of the log equals the state.
func TestPropertyStaleWavesEqualFullRecompute(t *testing.T) {
	const size = 4
	parity := func(in [][]byte, _ []byte, out []byte) {
		var s byte
		for _, b := range in {
			s += b[0]
		}
		clear(out)
		out[0] = s & 1
	}
	funcs := map[string]func([][]byte, []byte, []byte){
		"plus":   func(in [][]byte, _ []byte, out []byte) { plusOne(in, out) },
		"parity": parity,
	}
	var again uint64 // waves computed again, over all cases
	rapid.Check(t, func(rt *rapid.T) {
		var e *Bus
		var inject func() // runs once, in the call it is armed for
		calls, armedAt := 0, -1
		wrap := func(f func([][]byte, []byte, []byte)) RecomputeFunc {
			return func(in [][]byte, params []byte, out []byte) error {
				calls++
				if calls == armedAt && !waveHoldsLock(e) {
					inject() // commit as a writer would
				}
				f(in, params, out)
				return nil
			}
		}
		opts := &Options{Clock: testClock(), CheckpointBytes: -1, Functions: map[string]RecomputeFunc{}}
		for name, f := range funcs {
			opts.Functions[name] = wrap(f)
		}
		var err error
		if e, err = Open("", opts); err != nil {
			rt.Fatal(err)
		}
		defer e.Close()
		nRoots := rapid.IntRange(1, 4).Draw(rt, "roots")
		nDerived := rapid.IntRange(1, 10).Draw(rt, "derived")
		specs := make([]PageSpec, nRoots+nDerived)
		for i := range specs {
			specs[i] = PageSpec{Size: size}
		}
		ids, err := e.CreatePages(ctx, specs)
		if err != nil {
			rt.Fatal(err)
		}
		roots := ids[:nRoots]
		type bound struct {
			fn      string
			parents []PageID
		}
		binds := map[PageID]bound{}
		for i := nRoots; i < len(ids); i++ {
			np := rapid.IntRange(1, 3).Draw(rt, "parents")
			ps := make([]PageID, np)
			for k := range ps {
				ps[k] = ids[rapid.IntRange(0, i-1).Draw(rt, "parent")]
			}
			b := bound{rapid.SampledFrom([]string{"plus", "plus", "parity"}).Draw(rt, "fn"), ps}
			if err := e.Bind(ctx, ids[i], b.fn, nil, b.parents); err != nil {
				rt.Fatal(err)
			}
			binds[ids[i]] = b
		}
		writeRoots := func(label string) []Delta {
			n := rapid.IntRange(1, 3).Draw(rt, label+" writes")
			ds := make([]Delta, n)
			for k := range ds {
				ds[k] = Write(rapid.SampledFrom(roots).Draw(rt, label+" root"), uint32(rapid.IntRange(0, size-1).Draw(rt, label+" off")),
					[]byte{byte(rapid.IntRange(0, 3).Draw(rt, label+" value"))})
			}
			return ds
		}
		for w := rapid.IntRange(1, 8).Draw(rt, "waves"); w > 0; w-- {
			if _, err := e.Commit(ctx, writeRoots("before")); err != nil {
				rt.Fatal(err)
			}
			during := writeRoots("during")
			calls, armedAt = 0, 1+rapid.IntRange(0, nDerived).Draw(rt, "inject at call")
			inject = func() {
				if _, err := e.Commit(ctx, during); err != nil {
					rt.Error(err)
				}
			}
			if _, err := e.Propagate(ctx); err != nil {
				rt.Fatal(err)
			}
		}
		armedAt = -1
		for e.Pending() > 0 {
			if _, err := e.Propagate(ctx); err != nil {
				rt.Fatal(err)
			}
		}
		want := make([]byte, size)
		for _, id := range ids[nRoots:] {
			b := binds[id]
			in := make([][]byte, len(b.parents))
			for k, p := range b.parents {
				if in[k], _, err = e.ReadPage(p, nil); err != nil {
					rt.Fatal(err)
				}
			}
			funcs[b.fn](in, nil, want)
			got, _, err := e.ReadPage(id, nil)
			if err != nil {
				rt.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				rt.Fatalf("derived page %d (%s of %v) = %v, want %v (%d waves computed again)", id, b.fn, b.parents, got, want, e.Metrics().WavesComputedAgain)
			}
		}
		if rep, err := e.VerifyReplay(ctx, false); err != nil || !rep.Equal() {
			rt.Fatalf("replay: %+v, %v", rep, err)
		}
		again += e.Metrics().WavesComputedAgain
	})
	if again == 0 {
		t.Fatal("no wave was computed again: the commits during waves did not make any stale")
	}
	t.Logf("%d waves computed again", again)
}
