package mmsb

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
)

// errFlaky is what test.flaky returns while its switch is on.
var errFlaky = errors.New("flaky function refused its input")

// partialFuncs returns the recompute functions of the partial-wave tests:
//
//	test.copy   out = the first input
//	test.add    out[i] = the sum of the inputs' bytes i (mod 256)
//	test.flaky  test.copy, but fails while failing is set
//	test.nan    test.copy, but fails when the first input starts with 0xff
//	            (a function that rejects a value one source page holds)
func partialFuncs(failing *atomic.Bool) map[string]RecomputeFunc {
	cp := func(in [][]byte, _, out []byte) error {
		n := copy(out, in[0])
		clear(out[n:])
		return nil
	}
	return map[string]RecomputeFunc{
		"test.copy": cp,
		"test.add": func(in [][]byte, _, out []byte) error {
			for i := range out {
				var s byte
				for _, b := range in {
					if i < len(b) {
						s += b[i]
					}
				}
				out[i] = s
			}
			return nil
		},
		"test.flaky": func(in [][]byte, p, out []byte) error {
			if failing.Load() {
				return errFlaky
			}
			return cp(in, p, out)
		},
		"test.nan": func(in [][]byte, p, out []byte) error {
			if len(in[0]) > 0 && in[0][0] == 0xff {
				return fmt.Errorf("%w: input starts with 0xff", errFlaky)
			}
			return cp(in, p, out)
		},
	}
}

func mustBind(t *testing.T, e *Bus, child PageID, fn string, parents ...PageID) {
	t.Helper()
	if err := e.Bind(ctx, child, fn, nil, parents); err != nil {
		t.Fatalf("Bind(%d, %s, %v): %v", child, fn, parents, err)
	}
}

func mustCommit(t *testing.T, e *Bus, id PageID, data string) {
	t.Helper()
	if _, err := e.Commit(ctx, []delta.Delta{w(id, 0, data)}); err != nil {
		t.Fatalf("Commit to page %d: %v", id, err)
	}
}

func pageBytes(t *testing.T, e *Bus, id PageID) string {
	t.Helper()
	b, _, err := e.ReadPage(id, nil)
	if err != nil {
		t.Fatalf("ReadPage(%d): %v", id, err)
	}
	return string(b)
}

const zero8 = "\x00\x00\x00\x00\x00\x00\x00\x00"

// wantRecomputeError checks that err is the *RecomputeError of page id.
func wantRecomputeError(t *testing.T, err error, id PageID) *RecomputeError {
	t.Helper()
	var re *RecomputeError
	if !errors.As(err, &re) || re.Page != id || re.Func != "test.flaky" && re.Func != "test.nan" ||
		!errors.Is(err, ErrRecompute) || !errors.Is(err, errFlaky) {
		t.Fatalf("Propagate error = %v, want a *RecomputeError of page %d wrapping the function's error", err, id)
	}
	return re
}

// TestPartialWaveComputesIndependentChain: of two independent derived
// chains a -> b -> c and x -> f -> g, f's function always fails. The wave
// computes b and c, holds back f and g, and says so; later waves keep
// computing the healthy chain and retry f alone.
func TestPartialWaveComputesIndependentChain(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	e := openMem(t, &Options{Functions: partialFuncs(&failing)})
	ids := mustCreate(t, e, 6, 8)
	a, b, c, x, f, g := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5]
	mustBind(t, e, b, "test.copy", a)
	mustBind(t, e, c, "test.copy", b)
	mustBind(t, e, f, "test.flaky", x)
	mustBind(t, e, g, "test.copy", f)
	if _, err := e.Commit(ctx, []delta.Delta{w(a, 0, "aaaaaaaa"), w(x, 0, "xxxxxxxx")}); err != nil {
		t.Fatal(err)
	}

	r, err := e.Propagate(ctx)
	re := wantRecomputeError(t, err, f)
	if got := [2]string{pageBytes(t, e, b), pageBytes(t, e, c)}; got != [2]string{"aaaaaaaa", "aaaaaaaa"} {
		t.Fatalf("healthy chain after a wave where f failed: b=%q c=%q, want both %q", got[0], got[1], "aaaaaaaa")
	}
	if got := [2]string{pageBytes(t, e, f), pageBytes(t, e, g)}; got != [2]string{zero8, zero8} {
		t.Fatalf("failing chain changed: f=%q g=%q", got[0], got[1])
	}
	if len(r.Writes) != 2 || r.Writes[0].Page != b || r.Writes[1].Page != c || r.FirstLSN == 0 {
		t.Fatalf("wave result %+v, want the writes of b and c logged", r)
	}
	if held, failed := heldOf(&r); held != 2 || len(failed) != 1 || failed[0] != f {
		t.Fatalf("result: %d held back, %v failed; want 2 and page %d", held, failed, f)
	}
	if held, failures := errCounts(re); held != 2 || failures != 1 || !strings.Contains(err.Error(), "2 pages held back") {
		t.Fatalf("error %q: HeldBack %d, Failures %d; want 2 pages held back, one failure", err, held, failures)
	}
	if got := e.Pending(); got != 2 {
		t.Fatalf("Pending after the partial wave = %d, want 2 (f and g wait)", got)
	}

	// The healthy chain keeps propagating while f still fails.
	mustCommit(t, e, a, "bbbbbbbb")
	r, err = e.Propagate(ctx)
	wantRecomputeError(t, err, f)
	if got := pageBytes(t, e, c); got != "bbbbbbbb" || len(r.Writes) != 2 {
		t.Fatalf("second wave: c=%q, %d writes; want %q and 2", got, len(r.Writes), "bbbbbbbb")
	}

	// Nothing new: the wave retries f alone (g waits for it) and logs nothing.
	last := e.LastLSN()
	r, err = e.Propagate(ctx)
	wantRecomputeError(t, err, f)
	if held, _ := heldOf(&r); e.LastLSN() != last || r.FirstLSN != 0 || r.Recomputed != 1 || held != 2 {
		t.Fatalf("idle wave while f fails: LSN %d -> %d, result %+v; want nothing logged, one call, 2 held back", last, e.LastLSN(), r)
	}
}

// TestPartialWaveHoldsDiamondDescendant: d = h + f depends on the failing f
// and on the healthy h, and k = u + a depends on f through u, a page with a
// plain Data edge and no binding. Both are held back although a parent of
// each changed; h is computed.
func TestPartialWaveHoldsDiamondDescendant(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	e := openMem(t, &Options{Functions: partialFuncs(&failing)})
	ids := mustCreate(t, e, 7, 8)
	a, x, h, f, d, u, k := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6]
	mustBind(t, e, h, "test.copy", a)
	mustBind(t, e, f, "test.flaky", x)
	mustBind(t, e, d, "test.add", h, f)
	if err := e.AddEdge(ctx, f, u, EdgeData); err != nil {
		t.Fatal(err)
	}
	mustBind(t, e, k, "test.add", u, a)
	if _, err := e.Commit(ctx, []delta.Delta{w(a, 0, "\x01\x01\x01\x01\x01\x01\x01\x01"), w(x, 0, "\x02\x02\x02\x02\x02\x02\x02\x02")}); err != nil {
		t.Fatal(err)
	}
	r, err := e.Propagate(ctx)
	wantRecomputeError(t, err, f)
	if got := pageBytes(t, e, h); got != "\x01\x01\x01\x01\x01\x01\x01\x01" {
		t.Fatalf("h = %q, want a's bytes", got)
	}
	for _, id := range []PageID{f, d, k} {
		if got := pageBytes(t, e, id); got != zero8 {
			t.Fatalf("page %d (a descendant of the failing page) = %q, want it held back", id, got)
		}
	}
	if held, _ := heldOf(&r); len(r.Writes) != 1 || r.Writes[0].Page != h || held != 3 {
		t.Fatalf("writes %+v, held back %d; want only h written, f, d and k held back", r.Writes, held)
	}

	failing.Store(false)
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pageBytes(t, e, d); got != "\x03\x03\x03\x03\x03\x03\x03\x03" {
		t.Fatalf("d after f recovered = %q, want h + f", got)
	}
	// k has no path to compute from u's bytes alone (u is not derived): it is
	// recomputed because it was held back, with u = 0 and a = 1.
	if got := pageBytes(t, e, k); got != "\x01\x01\x01\x01\x01\x01\x01\x01" {
		t.Fatalf("k after f recovered = %q, want u + a", got)
	}
}

// chainBus builds s -> c1 -> f -> g and s2 -> h, with d = g + h, and runs
// the first wave (failing must be off), so that no page is dirty: f sits
// below a derived page, and a retry cannot count on f's parent being dirty
// or written again (c1 is cut off when recomputed unchanged).
func chainBus(t *testing.T, dir string, failing *atomic.Bool) (*Bus, []PageID) {
	t.Helper()
	e := openT(t, dir, &Options{Functions: partialFuncs(failing)})
	ids := mustCreate(t, e, 7, 8)
	s, c1, f, g, s2, h, d := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6]
	mustBind(t, e, c1, "test.copy", s)
	mustBind(t, e, f, "test.flaky", c1)
	mustBind(t, e, g, "test.copy", f)
	mustBind(t, e, h, "test.copy", s2)
	mustBind(t, e, d, "test.add", g, h)
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	return e, ids
}

// TestPartialWaveRecoversToNeverFailedState: once the failing function
// succeeds again, the next wave computes it and its descendants, and the
// state equals that of a bus where it never failed.
func TestPartialWaveRecoversToNeverFailedState(t *testing.T) {
	var failing, never atomic.Bool
	e, ids := chainBus(t, "", &failing)
	failing.Store(true)
	defer e.Close()
	ref, _ := chainBus(t, "", &never)
	defer ref.Close()
	s, c1, f, h, d := ids[0], ids[1], ids[2], ids[5], ids[6]
	for _, bus := range []*Bus{e, ref} {
		if _, err := bus.Commit(ctx, []delta.Delta{w(s, 0, "\x05\x05\x05\x05\x05\x05\x05\x05"), w(ids[4], 0, "\x07\x07\x07\x07\x07\x07\x07\x07")}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		_, err := e.Propagate(ctx)
		wantRecomputeError(t, err, f)
	}
	if pageBytes(t, e, c1) != "\x05\x05\x05\x05\x05\x05\x05\x05" || pageBytes(t, e, h) != "\x07\x07\x07\x07\x07\x07\x07\x07" {
		t.Fatalf("partial waves did not compute c1 and h: c1=%q h=%q", pageBytes(t, e, c1), pageBytes(t, e, h))
	}
	if pageBytes(t, e, d) != zero8 {
		t.Fatalf("d = %q, want it held back", pageBytes(t, e, d))
	}
	failing.Store(false)
	r, err := e.Propagate(ctx)
	if err != nil {
		t.Fatalf("wave after the function recovered: %v", err)
	}
	if len(r.Writes) != 3 || r.Writes[0].Page != f {
		t.Fatalf("recovery wave wrote %+v, want f, g and d", r.Writes)
	}
	if _, err := ref.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if hashOf(t, e) != hashOf(t, ref) {
		for _, id := range ids {
			t.Logf("page %d: %q vs %q", id, pageBytes(t, e, id), pageBytes(t, ref, id))
		}
		t.Fatal("state after recovery differs from the bus where the function never failed")
	}
	if e.Pending() != 0 {
		t.Fatalf("Pending after recovery = %d, want 0", e.Pending())
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if hashOf(t, e) != hashOf(t, ref) {
		t.Fatal("an idle wave after recovery changed the state")
	}
}

// TestPartialWaveResyncRetries: a resync wave (after a restart, the dirty
// set empty) in which f fails computes the rest; f and its descendants are
// retried by the next waves although nothing is dirty, until f succeeds.
func TestPartialWaveResyncRetries(t *testing.T) {
	var failing atomic.Bool
	dir := t.TempDir()
	e, ids := chainBus(t, dir, &failing)
	s, c1, f, g, s2, h, d := ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6]
	if _, err := e.Commit(ctx, []delta.Delta{w(s, 0, "\x05\x05\x05\x05\x05\x05\x05\x05"), w(s2, 0, "\x07\x07\x07\x07\x07\x07\x07\x07")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	e = openT(t, dir, &Options{Functions: partialFuncs(&failing)})
	defer e.Close()
	e.ScheduleResync()
	for i := 0; i < 2; i++ {
		_, err := e.Propagate(ctx)
		wantRecomputeError(t, err, f)
	}
	if pageBytes(t, e, c1) != "\x05\x05\x05\x05\x05\x05\x05\x05" || pageBytes(t, e, h) != "\x07\x07\x07\x07\x07\x07\x07\x07" {
		t.Fatalf("resync wave did not compute c1 and h: c1=%q h=%q", pageBytes(t, e, c1), pageBytes(t, e, h))
	}
	failing.Store(false)
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pageBytes(t, e, g) + pageBytes(t, e, d); got != "\x05\x05\x05\x05\x05\x05\x05\x05"+"\x0c\x0c\x0c\x0c\x0c\x0c\x0c\x0c" {
		t.Fatalf("after f recovered: g+d = %q, want f's descendants computed", got)
	}
}

// TestPartialWaveReplayEqualsLive: partial waves (one and two failing
// functions, a recovery) replay to the live state, from LSN 1 and from a
// checkpoint taken between them.
func TestPartialWaveReplayEqualsLive(t *testing.T) {
	var failing atomic.Bool
	e, ids := chainBus(t, t.TempDir(), &failing)
	failing.Store(true)
	defer e.Close()
	s, s2, h := ids[0], ids[4], ids[5]
	// A second failing function below h: page n = test.nan(h).
	n := mustCreate(t, e, 1, 8)[0]
	mustBind(t, e, n, "test.nan", h)
	derived := 0
	for round := 0; round < 6; round++ {
		v := byte(round + 1)
		if round == 2 {
			v = 0xff // test.nan refuses it: two failures in this wave
		}
		if round == 4 {
			failing.Store(false)
		}
		if _, err := e.Commit(ctx, []delta.Delta{w(s, 0, string([]byte{v})), w(s2, 0, string([]byte{v}))}); err != nil {
			t.Fatal(err)
		}
		r, err := e.Propagate(ctx)
		if round < 4 && err == nil {
			t.Fatalf("round %d: the wave did not fail", round)
		}
		if err != nil {
			derived += len(r.Writes) // written by a partial wave
		}
		if round == 1 {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if derived == 0 {
		t.Fatal("no derived page written by the waves where a function failed")
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, fromCkpt := range []bool{false, true} {
		rep, err := e.VerifyReplay(ctx, fromCkpt)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Equal() || fromCkpt != (rep.CheckpointLSN != 0) {
			t.Fatalf("VerifyReplay(fromCheckpoint=%v) = %+v, want equal", fromCkpt, rep)
		}
	}
}

// TestPartialWaveDeterministic: two buses fed the same operations, with
// waves where one or two functions fail, reach the same state and write
// the same log, and return the same errors; the error of a wave with two
// failures is the first failure in topological order.
func TestPartialWaveDeterministic(t *testing.T) {
	run := func() (uint64, string, []string) {
		var failing atomic.Bool
		e := openT(t, t.TempDir(), &Options{Functions: partialFuncs(&failing)})
		defer e.Close()
		// Sources 1..4; p5 = nan(1), p6 = flaky(p5) ... a few chains and
		// joins so that the wave has several independent parts.
		ids := mustCreate(t, e, 12, 8)
		src := ids[:4]
		bindPartialGraph(t, e, ids)
		var errs []string
		twoFailures := 0
		for round := 0; round < 8; round++ {
			failing.Store(round%3 != 2)
			for i, id := range src {
				v := byte(round*4 + i)
				if (round+i)%5 == 0 {
					v = 0xff
				}
				mustCommit(t, e, id, string([]byte{v, v, v}))
			}
			r, err := e.Propagate(ctx)
			held, failed := heldOf(&r)
			errs = append(errs, fmt.Sprintf("%v held=%d failed=%v writes=%d", err, held, failed, len(r.Writes)))
			if len(failed) == 2 {
				twoFailures++
				var re *RecomputeError
				if !errors.As(err, &re) || re.Page != ids[4] || len(r.Writes) == 0 {
					t.Fatalf("round %d: two failures, error %v, %d writes; want page %d named (first in topological order) and the rest written",
						round, err, len(r.Writes), ids[4])
				}
			}
		}
		var log bytes.Buffer
		if err := e.QueryLog(ctx, LogQuery{}, func(lo *LoggedOp) bool {
			fmt.Fprintf(&log, "%d %d %+v\n", lo.LSN, lo.Time, *lo.Op)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if twoFailures == 0 {
			t.Fatalf("no wave had two failures:\n%s", strings.Join(errs, "\n"))
		}
		return hashOf(t, e), log.String(), errs
	}
	h1, log1, errs1 := run()
	h2, log2, errs2 := run()
	if h1 != h2 || log1 != log2 || strings.Join(errs1, "\n") != strings.Join(errs2, "\n") {
		t.Fatalf("two buses fed the same operations differ: hash %x vs %x, logs equal %v, errors\n%s\nvs\n%s",
			h1, h2, log1 == log2, strings.Join(errs1, "\n"), strings.Join(errs2, "\n"))
	}
}

// bindPartialGraph binds ids[4:12] over the sources ids[:4] with
// partialFuncs' functions: chains and joins, so that a wave has several
// independent parts and a failing function holds back only its own.
func bindPartialGraph(t *testing.T, e *Bus, ids []PageID) {
	t.Helper()
	src := ids[:4]
	mustBind(t, e, ids[4], "test.nan", src[0])
	mustBind(t, e, ids[5], "test.copy", ids[4])
	mustBind(t, e, ids[6], "test.flaky", src[1])
	mustBind(t, e, ids[7], "test.add", ids[5], ids[6])
	mustBind(t, e, ids[8], "test.copy", src[2])
	mustBind(t, e, ids[9], "test.add", ids[8], src[3])
	mustBind(t, e, ids[10], "test.copy", ids[9])
	mustBind(t, e, ids[11], "test.add", ids[10], ids[5])
}
