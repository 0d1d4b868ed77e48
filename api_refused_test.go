package mmsb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/vfs"
)

// callBound runs f with a bound on its time, turning a panic into a test
// failure: a call on caller-built input must neither panic nor hang. The
// bound tells a hang from a slow call, not a speed: on a loaded 2-core
// machine under the race detector a refusal that copied 300 MiB once took
// over 20 s (refusals no longer copy; see
// TestRecordOverLimitRefusedUncopied).
const callBoundWait = 2 * time.Minute

func callBound(t *testing.T, name string, f func() error) error {
	t.Helper()
	type result struct {
		err   error
		panic any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if v := recover(); v != nil {
				r.panic = v
			}
			done <- r
		}()
		r.err = f()
	}()
	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("%s: panicked: %v", name, r.panic)
		}
		return r.err
	case <-time.After(callBoundWait):
		t.Fatalf("%s: did not return within %v (hung?)", name, callBoundWait)
		return nil
	}
}

// refusedCase is a call that must be refused with an error wrapping want
// and naming what was wrong (every string of names appears in it).
type refusedCase struct {
	name  string
	call  func(e *Bus) error
	want  error
	names []string
}

// checkRefused runs each case on e and requires the refusal, with the bus
// still usable and its state (StateHash, LastLSN) unchanged.
func checkRefused(t *testing.T, e *Bus, cases []refusedCase) {
	t.Helper()
	for _, tc := range cases {
		for _, p := range refusedProblems(t, e, tc) {
			t.Errorf("%s: %s", tc.name, p)
		}
	}
}

// refusedProblems runs one case and says what is wrong with its outcome.
func refusedProblems(t *testing.T, e *Bus, tc refusedCase) []string {
	t.Helper()
	h0, l0 := hashOf(t, e), e.LastLSN()
	err := callBound(t, tc.name, func() error { return tc.call(e) })
	if !errors.Is(err, tc.want) {
		return []string{fmt.Sprintf("err = %v, want one wrapping %v", err, tc.want)}
	}
	var out []string
	for _, n := range tc.names {
		if !strings.Contains(err.Error(), n) {
			out = append(out, fmt.Sprintf("error %q does not name %q", err, n))
		}
	}
	if h, l := hashOf(t, e), e.LastLSN(); h != h0 || l != l0 {
		out = append(out, fmt.Sprintf("refused call changed the bus: hash %x -> %x, LastLSN %d -> %d", h0, h, l0, l))
	}
	if err := e.Err(); err != nil {
		out = append(out, fmt.Sprintf("bus no longer usable: %v", err))
	}
	return out
}

// TestCheckRefusedCanFail is the negative control of checkRefused: a call
// that is not refused, refused with another sentinel, not naming the
// value, or that changes the state before its error, is reported.
func TestCheckRefusedCanFail(t *testing.T) {
	e, ids := refusedFixture(t)
	write := func(e *Bus) error { _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("z"))}); return err }
	for _, tc := range []refusedCase{
		{"accepted", func(*Bus) error { return nil }, ErrInvalidOption, nil},
		{"other sentinel", func(*Bus) error { return ErrPageNotFound }, ErrInvalidOption, nil},
		{"value not named", func(*Bus) error { return fmt.Errorf("%w: bad", ErrInvalidOption) }, ErrInvalidOption, []string{"Workers"}},
		{"state changed", func(e *Bus) error { _ = write(e); return ErrInvalidOption }, ErrInvalidOption, nil},
	} {
		if p := refusedProblems(t, e, tc); len(p) == 0 {
			t.Errorf("control %q: no problem reported", tc.name)
		}
	}
}

// refusedFixture is an in-memory bus with three pages of 8, 8 and 16
// bytes (page 1 written once), a Control edge 1 -> 2 and page 3 bound to
// passthrough of page 2.
func refusedFixture(t *testing.T) (*Bus, []PageID) {
	t.Helper()
	e := openMem(t, &Options{Functions: fuzzFuncs()})
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 8}, {Size: 8}, {Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("abcdefgh"))}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, ids[0], ids[1], EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[2], "passthrough", nil, []PageID{ids[1]}); err != nil {
		t.Fatal(err)
	}
	return e, ids
}

// TestOptionsRefusedNamed: invalid options are refused by Open with
// ErrInvalidOption naming the field; values documented as "default" or
// "never" (zero, negative) open a usable bus whose replay equals it.
func TestOptionsRefusedNamed(t *testing.T) {
	nop := func([][]byte, []byte, []byte) error { return nil }
	refused := []struct {
		name  string
		dir   bool
		o     Options
		names []string
	}{
		// Before: "tlog: unknown sync mode 9", wrapping no exported sentinel.
		{"Sync unknown", false, Options{Sync: 9}, []string{"Sync", "9"}},
		{"Sync max", true, Options{Sync: math.MaxUint8}, []string{"Sync", "255"}},
		// Before: Open accepted it; a binding to "fn" failed every wave with
		// a recovered nil-function panic, and validate.Purity, which calls
		// Bus.Func's function itself, panicked.
		{"Functions nil", false, Options{Functions: map[string]RecomputeFunc{"fn": nil}}, []string{"Functions", `"fn"`, "nil"}},
		{"Functions nil builtin", false, Options{Functions: map[string]RecomputeFunc{"f64.sum": nil, "ok": nop}}, []string{"Functions", `"f64.sum"`}},
		{"SyncReplicated without Replicator", false, Options{Sync: SyncReplicated}, []string{"Replicator"}},
		{"Workers huge", false, Options{Workers: math.MaxInt}, []string{"Workers"}},
		{"HistoryEntries huge", false, Options{HistoryEntries: math.MaxInt}, []string{"HistoryEntries"}},
		{"CheckpointWriteRate tiny", true, Options{CheckpointWriteRate: 1}, []string{"CheckpointWriteRate"}},
		// Before: accepted; every record went into a segment file of its
		// own (a create and a directory fsync per commit).
		{"SegmentBytes 1", true, Options{SegmentBytes: 1}, []string{"SegmentBytes 1", "at least 64"}},
		{"SegmentBytes below the bound", false, Options{SegmentBytes: 63}, []string{"SegmentBytes 63", "at least 64"}},
		{"Shared without dir", false, Options{Shared: true}, []string{"Shared"}},
		{"Shared in a missing SharedDir", true, Options{Shared: true, SharedDir: "/nonexistent/mmsb"}, []string{"SharedDir"}},
		{"Follower without log", false, Options{Follower: true, DisableLog: true}, []string{"DisableLog"}},
	}
	for _, tc := range refused {
		dir := ""
		if tc.dir {
			dir = t.TempDir()
		}
		o := tc.o
		var e *Bus
		err := callBound(t, tc.name, func() error {
			var err error
			e, err = Open(dir, &o)
			return err
		})
		if e != nil {
			e.Close()
		}
		if !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: Open = %v, want ErrInvalidOption", tc.name, err)
			continue
		}
		for _, n := range tc.names {
			if !strings.Contains(err.Error(), n) {
				t.Errorf("%s: error %q does not name %q", tc.name, err, n)
			}
		}
	}

	// Accepted: zero and negative values mean the default or "never"
	// (Options' documentation), extremes of sizes are just sizes, and a
	// clock that goes backwards or stands at zero stamps non-decreasing
	// commit times.
	var back int64 = 1_000_000
	accepted := []struct {
		name string
		dir  bool
		o    Options
	}{
		{"SegmentBytes negative", true, Options{SegmentBytes: -1}},
		{"SegmentBytes smallest", true, Options{SegmentBytes: 64}},
		{"SegmentBytes huge", false, Options{SegmentBytes: math.MaxInt64}},
		{"CheckpointBytes most negative", false, Options{CheckpointBytes: math.MinInt64}},
		{"CheckpointBytes 1", false, Options{CheckpointBytes: 1}},
		{"CheckpointInterval negative", false, Options{CheckpointInterval: -1}},
		{"CheckpointWriteRate most negative", true, Options{CheckpointWriteRate: math.MinInt64}},
		{"HistoryEntries most negative", false, Options{HistoryEntries: math.MinInt}},
		{"Workers most negative", false, Options{Workers: math.MinInt}},
		{"DisableLog with SyncAlways", true, Options{DisableLog: true, Sync: SyncAlways}},
		{"LazyPageMemory with Shared", true, Options{Shared: true, LazyPageMemory: true, SharedDir: t.TempDir()}},
		{"Clock zero", false, Options{Clock: func() int64 { return 0 }}},
		{"Clock backwards", false, Options{Clock: func() int64 { back -= 1000; return back }}},
	}
	for _, tc := range accepted {
		dir := ""
		if tc.dir {
			dir = t.TempDir()
		}
		o := tc.o
		var e *Bus
		if err := callBound(t, tc.name, func() error {
			var err error
			e, err = Open(dir, &o)
			return err
		}); err != nil {
			t.Errorf("%s: Open: %v", tc.name, err)
			continue
		}
		err := callBound(t, tc.name+" use", func() error {
			defer e.Close()
			ids, err := e.CreatePages(ctx, []PageSpec{{Size: 8}})
			if err != nil {
				return err
			}
			var last int64 = math.MinInt64
			for i := range 3 {
				ds := []Delta{Write(ids[0], uint32(i), []byte{byte(i + 1)})}
				if _, err := e.Commit(ctx, ds); err != nil {
					return err
				}
				if ds[0].Time < last {
					return fmt.Errorf("commit %d stamped %d after %d", i, ds[0].Time, last)
				}
				last = ds[0].Time
			}
			if _, err := e.Checkpoint(ctx); err != nil {
				return err
			}
			if o.DisableLog {
				return nil
			}
			rep, err := e.VerifyReplay(ctx, false)
			if err == nil && !rep.Equal() {
				err = fmt.Errorf("replay differs: %v", rep.Differences)
			}
			return err
		})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestPageSpecRefused: creates with bad sizes, locations, metadata or
// IDs are refused whole with the sentinel, naming the value.
func TestPageSpecRefused(t *testing.T) {
	e, ids := refusedFixture(t)
	long := strings.Repeat("k", 1<<16+1)
	many := make([]MetaEntry, 70000)
	for i := range many {
		many[i].Key = "k"
	}
	create := func(specs ...PageSpec) func(*Bus) error {
		return func(e *Bus) error { _, err := e.CreatePages(ctx, specs); return err }
	}
	cases := []refusedCase{
		{"size 0", create(PageSpec{Size: 0}), ErrInvalidPage, []string{"size 0"}},
		{"size negative", create(PageSpec{Size: -1}), ErrInvalidPage, []string{"size -1"}},
		{"size most negative", create(PageSpec{Size: math.MinInt}), ErrInvalidPage, []string{"size"}},
		{"size above MaxPageSize", create(PageSpec{Size: MaxPageSize + 1}), ErrInvalidPage, []string{"size 16777217"}},
		{"size MaxInt", create(PageSpec{Size: math.MaxInt}), ErrInvalidPage, []string{"size"}},
		{"location GPU", create(PageSpec{Size: 8, Location: GPU}), ErrInvalidPage, []string{"location"}},
		{"location unknown", create(PageSpec{Size: 8, Location: 9}), ErrInvalidPage, []string{"location"}},
		{"metadata key too long", create(PageSpec{Size: 8, Meta: []MetaEntry{{Key: long}}}), ErrInvalidPage, []string{"metadata"}},
		{"metadata value too long", create(PageSpec{Size: 8, Meta: []MetaEntry{{Key: "k", Value: make([]byte, 1<<20)}}}), ErrInvalidPage, []string{"metadata"}},
		{"metadata too many entries", create(PageSpec{Size: 8, Meta: many}), ErrInvalidPage, []string{"metadata"}},
		{"ID taken", create(PageSpec{ID: ids[0], Size: 8}), ErrPageExists, []string{"page 1"}},
		{"ID twice in a batch", create(PageSpec{ID: 100, Size: 8}, PageSpec{ID: 100, Size: 8}), ErrPageExists, []string{"page 100"}},
		{"good then bad", create(PageSpec{Size: 8}, PageSpec{Size: -5}), ErrInvalidPage, []string{"size -5"}},
		{"SetMetadata too large", func(e *Bus) error { return e.SetMetadata(ctx, ids[0], many) }, ErrInvalidPage, []string{"metadata"}},
		{"SetMetadata page 0", func(e *Bus) error { return e.SetMetadata(ctx, 0, nil) }, ErrPageNotFound, []string{"page 0"}},
		{"FreePage page 0", func(e *Bus) error { return e.FreePage(ctx, 0) }, ErrPageNotFound, []string{"page 0"}},
		{"FreePage bound", func(e *Bus) error { return e.FreePage(ctx, ids[2]) }, ErrPageInUse, []string{"page 3"}},
	}
	if strconv.IntSize == 64 { // no int reaches 2^32 on 32-bit platforms
		cases = append(cases, refusedCase{"size wrapping uint32", create(PageSpec{Size: int(uint64(one)<<32) + 8}), ErrInvalidPage, []string{"size 4294967304"}})
	}
	checkRefused(t, e, cases)

	// The largest ID is a valid explicit ID, but nothing is left above it
	// to assign. Before: the next automatic ID wrapped to 0 and every
	// create without an ID failed with "page id 0 is reserved", which
	// named neither the spec nor the cause.
	if _, err := e.CreatePages(ctx, []PageSpec{{ID: math.MaxUint64, Size: 8}}); err != nil {
		t.Fatalf("create with the largest ID: %v", err)
	}
	checkRefused(t, e, []refusedCase{
		{"automatic ID after the largest", create(PageSpec{Size: 8}), ErrInvalidPage, []string{"no page ID left", "18446744073709551615"}},
		{"explicit then automatic after the largest", create(PageSpec{ID: 500, Size: 8}, PageSpec{Size: 8}), ErrInvalidPage, []string{"no page ID left"}},
	})
	if _, err := e.CreatePages(ctx, []PageSpec{{ID: 600, Size: 8}}); err != nil {
		t.Fatalf("explicit IDs still work after the automatic ones ran out: %v", err)
	}
	// Just below the top: one automatic ID is left (the wrap came one
	// create later).
	e2 := openMem(t, nil)
	if _, err := e2.CreatePages(ctx, []PageSpec{{ID: math.MaxUint64 - 1, Size: 8}}); err != nil {
		t.Fatal(err)
	}
	got, err := e2.CreatePages(ctx, []PageSpec{{Size: 8}})
	if err != nil || got[0] != math.MaxUint64 {
		t.Fatalf("automatic ID after MaxUint64-1 = %v, %v; want [%d]", got, err, uint64(math.MaxUint64))
	}
	checkRefused(t, e2, []refusedCase{
		{"automatic ID after the top was assigned", create(PageSpec{Size: 8}), ErrInvalidPage, []string{"no page ID left"}},
	})
	for _, b := range []*Bus{e, e2} {
		rep, err := b.VerifyReplay(ctx, false)
		if err != nil || !rep.Equal() {
			t.Fatalf("VerifyReplay = %v, %v", rep.Differences, err)
		}
	}
}

// TestCommitRefusedNamed: hand-built deltas and batches are refused whole
// by Commit and CommitAsync, naming the delta and what was wrong.
func TestCommitRefusedNamed(t *testing.T) {
	e, ids := refusedFixture(t)
	batches := []struct {
		name  string
		ds    []Delta
		want  error
		names []string
	}{
		{"empty batch", []Delta{}, ErrInvalidDelta, []string{"empty batch"}},
		{"nil batch", nil, ErrInvalidDelta, []string{"empty batch"}},
		{"unknown form", []Delta{{Page: ids[0], Form: 7}}, ErrInvalidDelta, []string{"form 7"}},
		{"page 0", []Delta{Write(0, 0, []byte("a"))}, ErrPageNotFound, []string{"page 0"}},
		{"missing page", []Delta{Write(999, 0, []byte("a"))}, ErrPageNotFound, []string{"page 999"}},
		{"nil runs", []Delta{{Page: ids[0]}}, ErrInvalidDelta, []string{"no runs"}},
		{"run without data", []Delta{{Page: ids[0], Runs: []Run{{Offset: 3}}}}, ErrInvalidDelta, []string{"no data"}},
		{"offset at uint32 max", []Delta{Write(ids[0], math.MaxUint32, []byte("a"))}, ErrOutOfRange, []string{"4294967295"}},
		{"offset wrapping uint32", []Delta{Write(ids[0], math.MaxUint32-1, []byte("abc"))}, ErrOutOfRange, []string{"4294967294"}},
		{"past the end", []Delta{Write(ids[0], 7, []byte("ab"))}, ErrOutOfRange, []string{"[7,9)"}},
		{"mask longer than the page", []Delta{{Page: ids[0], Form: FormMaskedDense, Mask: make([]byte, 100), MaskLen: 800}}, ErrOutOfRange, []string{"800"}},
		{"MaskLen at uint32 max", []Delta{{Page: ids[0], Form: FormMaskedDense, Mask: []byte{1}, MaskLen: math.MaxUint32, Payload: []byte{1}}}, ErrInvalidDelta, []string{"MaskLen 4294967295"}},
		{"sparse payload short", []Delta{{Page: ids[0], Form: FormMaskedSparse, Mask: []byte{0xff}, MaskLen: 8, Payload: []byte{1}}}, ErrInvalidDelta, []string{"sparse payload"}},
		{"epoch conflict", []Delta{{Page: ids[0], Runs: []Run{{Data: []byte("x")}}, CheckEpoch: true, ExpectEpoch: 77}}, ErrConflict, []string{"expects 77"}},
		{"good then bad", []Delta{Write(ids[1], 0, []byte("x")), Write(ids[1], 8, []byte("x"))}, ErrOutOfRange, []string{"batch delta 1"}},
		{"intent past the record limit", []Delta{{Page: ids[1], Runs: []Run{{Data: []byte("x")}}, Intent: make([]byte, 300<<20)}}, ErrRecordTooLarge, []string{"batch delta 0"}},
	}
	var cases []refusedCase
	for _, b := range batches {
		cases = append(cases,
			refusedCase{"Commit " + b.name, func(e *Bus) error { _, err := e.Commit(ctx, b.ds); return err }, b.want, b.names},
			refusedCase{"CommitAsync " + b.name, func(e *Bus) error { _, err := e.CommitAsync(ctx, b.ds); return err }, b.want, b.names})
	}
	checkRefused(t, e, cases)
}

// TestBindRefused: edges and bindings that cannot be are refused, naming
// the page, function or cycle; a recompute function that panics or fails
// holds its page back and leaves the bus usable.
func TestBindRefused(t *testing.T) {
	e, ids := refusedFixture(t)
	cases := []refusedCase{
		{"AddEdge self", func(e *Bus) error { return e.AddEdge(ctx, ids[0], ids[0], EdgeData) }, ErrCycle, []string{"1 -> 1"}},
		{"AddEdge unknown type", func(e *Bus) error { return e.AddEdge(ctx, ids[0], ids[1], 9) }, ErrInvalidOption, []string{"edge type 9"}},
		{"AddEdge AllEdgeTypes", func(e *Bus) error { return e.AddEdge(ctx, ids[0], ids[1], AllEdgeTypes) }, ErrInvalidOption, []string{"edge type 255"}},
		{"AddEdge missing parent", func(e *Bus) error { return e.AddEdge(ctx, 999, ids[1], EdgeData) }, ErrPageNotFound, []string{"999"}},
		{"AddEdge missing child", func(e *Bus) error { return e.AddEdge(ctx, ids[0], 999, EdgeControl) }, ErrPageNotFound, []string{"999"}},
		{"AddEdge closing a cycle", func(e *Bus) error { return e.AddEdge(ctx, ids[2], ids[0], EdgeControl) }, ErrCycle, []string{"cycle"}},
		{"RemoveEdge unknown type", func(e *Bus) error { return e.RemoveEdge(ctx, ids[0], ids[1], 9) }, ErrInvalidOption, []string{"edge type 9"}},
		{"Bind self", func(e *Bus) error { return e.Bind(ctx, ids[0], "passthrough", nil, []PageID{ids[0]}) }, ErrCycle, []string{"1 -> 1"}},
		{"Bind unknown function", func(e *Bus) error { return e.Bind(ctx, ids[1], "nope", nil, []PageID{ids[0]}) }, ErrUnknownFunc, []string{`"nope"`}},
		{"Bind empty function name", func(e *Bus) error { return e.Bind(ctx, ids[1], "", nil, []PageID{ids[0]}) }, ErrUnknownFunc, []string{`""`}},
		{"Bind no parents", func(e *Bus) error { return e.Bind(ctx, ids[1], "fuzz.fail", nil, nil) }, ErrInvalidOption, []string{"no parents"}},
		{"Bind missing parent", func(e *Bus) error { return e.Bind(ctx, ids[1], "passthrough", nil, []PageID{999}) }, ErrPageNotFound, []string{"parent 999"}},
		{"Bind missing child", func(e *Bus) error { return e.Bind(ctx, 999, "passthrough", nil, []PageID{ids[0]}) }, ErrPageNotFound, []string{"999"}},
		{"Bind params past the record limit", func(e *Bus) error {
			return e.Bind(ctx, ids[1], "fuzz.keep", make([]byte, 300<<20), []PageID{ids[0]})
		}, ErrRecordTooLarge, []string{"record"}},
		{"Bind built-in with bad params", func(e *Bus) error { return e.Bind(ctx, ids[1], "bool.reach", []byte{1, 2, 3}, []PageID{ids[0]}) }, ErrInvalidOption, []string{`"bool.reach"`}},
		{"Bind twice", func(e *Bus) error { return e.Bind(ctx, ids[2], "passthrough", nil, []PageID{ids[0]}) }, ErrPageInUse, []string{"already bound"}},
		{"Bind closing a cycle", func(e *Bus) error { return e.Bind(ctx, ids[0], "fuzz.keep", nil, []PageID{ids[2]}) }, ErrCycle, []string{"cycle"}},
		{"Unbind a page not derived", func(e *Bus) error { return e.Unbind(ctx, ids[0]) }, ErrNotDerived, []string{"page 1"}},
		{"Unbind a missing page", func(e *Bus) error { return e.Unbind(ctx, 999) }, ErrNotDerived, []string{"page 999"}},
		{"ClearFlags missing page", func(e *Bus) error { return e.ClearFlags(ctx, 999, 1) }, ErrPageNotFound, []string{"999"}},
	}
	checkRefused(t, e, cases)

	// User functions that panic or fail: the wave holds their page back,
	// commits the rest, and the bus goes on.
	for _, fn := range []string{"fuzz.panic", "fuzz.fail"} {
		if err := e.Unbind(ctx, ids[2]); err != nil {
			t.Fatal(err)
		}
		if err := e.Bind(ctx, ids[2], fn, []byte{1}, []PageID{ids[1]}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Commit(ctx, []Delta{Write(ids[1], 0, []byte("q"))}); err != nil {
			t.Fatal(err)
		}
		err := callBound(t, "Propagate "+fn, func() error { _, err := e.Propagate(ctx); return err })
		var re *RecomputeError
		if !errors.Is(err, ErrRecompute) || !errors.As(err, &re) || re.Func != fn || re.Page != ids[2] {
			t.Fatalf("Propagate with %s bound = %v, want a *RecomputeError for page %d", fn, err, ids[2])
		}
		if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("z"))}); err != nil {
			t.Fatalf("after %s failed: %v", fn, err)
		}
	}
	rep, err := e.VerifyReplay(ctx, false)
	if err != nil || !rep.Equal() {
		t.Fatalf("VerifyReplay = %v, %v", rep.Differences, err)
	}
}

// TestQueryRangesRefused: reads, queries and replays of ranges that are
// reversed, negative, past the end or overflowing are refused (or
// answered short where documented), never wrapped around.
func TestQueryRangesRefused(t *testing.T) {
	e, ids := refusedFixture(t)
	last := e.LastLSN()
	replay := func(tg ReplayTarget) func(*Bus) error {
		return func(e *Bus) error {
			b, err := e.Replay(ctx, tg)
			if b != nil {
				b.Close()
			}
			return err
		}
	}
	rng := func(off, n int) func(*Bus) error {
		return func(e *Bus) error { _, _, err := e.ReadPageRange(ids[0], off, n, nil); return err }
	}
	prov := func(off, n int) func(*Bus) error {
		return func(e *Bus) error { _, err := e.Provenance(ctx, ids[0], off, n, math.MaxInt); return err }
	}
	cases := []refusedCase{
		{"ReadPageRange negative offset", rng(-1, 1), ErrInvalidOption, []string{"offset -1"}},
		{"ReadPageRange most negative offset", rng(math.MinInt, 1), ErrInvalidOption, []string{"offset"}},
		{"ReadPageRange negative length", rng(0, -1), ErrInvalidOption, []string{"length -1"}},
		{"ReadPageRange past the end", rng(9, 1), ErrOutOfRange, []string{"offset 9"}},
		{"ReadPageRange MaxInt offset and length", rng(math.MaxInt, math.MaxInt), ErrOutOfRange, []string{"offset"}},
		{"ReadPageRange missing page", func(e *Bus) error { _, _, err := e.ReadPageRange(999, 0, 1, nil); return err }, ErrPageNotFound, []string{"999"}},
		{"Provenance negative offset", prov(-1, 1), ErrInvalidOption, []string{"-1"}},
		{"Provenance zero length", prov(0, 0), ErrInvalidOption, []string{"provenance range"}},
		{"Provenance negative length", prov(0, -1), ErrInvalidOption, []string{"provenance range"}},
		{"Provenance past the end", prov(8, 1), ErrOutOfRange, []string{"[8, 9)"}},
		{"Provenance off+n overflowing", prov(1, math.MaxInt), ErrOutOfRange, []string{"provenance range"}},
		{"Provenance MaxInt both", prov(math.MaxInt, math.MaxInt), ErrOutOfRange, []string{"provenance range"}},
		{"ReadPageAt LSN 0", func(e *Bus) error { _, _, err := e.ReadPageAt(ctx, ids[0], 0); return err }, ErrInvalidOption, []string{"LSN"}},
		{"ReadPageAt past the last LSN", func(e *Bus) error { _, _, err := e.ReadPageAt(ctx, ids[0], last+1); return err }, ErrInvalidOption, []string{fmt.Sprint(last + 1)}},
		{"ReadPageAt max LSN", func(e *Bus) error { _, _, err := e.ReadPageAt(ctx, ids[0], math.MaxUint64); return err }, ErrInvalidOption, []string{"18446744073709551615"}},
		{"ReadPageAt a page that never existed", func(e *Bus) error { _, _, err := e.ReadPageAt(ctx, 999, last); return err }, ErrPageNotFound, []string{"999"}},
		{"Replay ToLSN past the end", replay(ReplayTarget{ToLSN: last + 1}), ErrInvalidOption, []string{fmt.Sprint(last + 1)}},
		{"Replay ToLSN max", replay(ReplayTarget{ToLSN: math.MaxUint64}), ErrInvalidOption, []string{"18446744073709551615"}},
		{"Replay epoch of a page that never existed", replay(ReplayTarget{Page: 999, Epoch: 1}), ErrInvalidOption, []string{"page 999"}},
		{"Replay epoch never reached", replay(ReplayTarget{Page: ids[0], Epoch: math.MaxUint64}), ErrInvalidOption, []string{"epoch 18446744073709551615"}},
		{"WaitDurable past the last LSN", func(e *Bus) error { return e.WaitDurable(ctx, math.MaxUint64) }, ErrInvalidOption, []string{"18446744073709551615"}},
		{"WaitLSN max, bounded by ctx", func(e *Bus) error {
			c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := e.WaitLSN(c, math.MaxUint64)
			return err
		}, context.DeadlineExceeded, nil},
	}
	if strconv.IntSize == 64 { // no int reaches 2^32 on 32-bit platforms
		beyond := int(uint64(one) << 32)
		cases = append(cases,
			refusedCase{"ReadPageRange beyond uint32", rng(beyond, 1), ErrOutOfRange, []string{"offset 4294967296"}},
			refusedCase{"Provenance beyond uint32", prov(beyond, 1), ErrOutOfRange, []string{"4294967296"}})
	}

	checkRefused(t, e, cases)

	// Accepted where documented: a range read stops at the page's end; an
	// empty or overflowing LSN range or a missing page selects nothing
	// (reversed times or an unknown kind are refused:
	// TestQueryContradictionsRefused); ToTime before
	// every commit replays nothing; FromEmpty wins over
	// FromOldestCheckpoint; Epoch without Page does not filter.
	if b, _, err := e.ReadPageRange(ids[0], 1, math.MaxInt, nil); err != nil || string(b) != "bcdefgh" {
		t.Errorf("ReadPageRange(1, MaxInt) = %q, %v; want the rest of the page", b, err)
	}
	if b, _, err := e.ReadPageRange(ids[0], 8, 1, nil); err != nil || len(b) != 0 {
		t.Errorf("ReadPageRange at the page's end = %q, %v; want nothing", b, err)
	}
	for name, q := range map[string]LogQuery{
		"reversed LSNs": {FromLSN: 5, ToLSN: 2},
		"FromLSN max":   {FromLSN: math.MaxUint64},
		"missing page":  {Page: 999},
	} {
		n := 0
		err := callBound(t, "QueryLog "+name, func() error {
			return e.QueryLog(ctx, q, func(*LoggedOp) bool { n++; return true })
		})
		if err != nil || n != 0 {
			t.Errorf("QueryLog %s = %d ops, %v; want none", name, n, err)
		}
	}
	for name, tg := range map[string]ReplayTarget{
		"ToTime negative":                     {ToTime: -1},
		"FromEmpty with FromOldestCheckpoint": {FromEmpty: true, FromOldestCheckpoint: true},
		"Epoch without Page":                  {Epoch: 5},
	} {
		var b *Bus
		if err := callBound(t, "Replay "+name, func() error {
			var err error
			b, err = e.Replay(ctx, tg)
			return err
		}); err != nil {
			t.Errorf("Replay %s: %v", name, err)
			continue
		}
		b.Close()
	}
}

// TestReaderRefused: a shared-memory Reader asked for pages that do not
// exist, or opened with odd options, answers with an error naming the page
// (closed readers: TestReaderSnapshotChecksClosedAndWriter).
func TestReaderRefused(t *testing.T) {
	dir, shm := t.TempDir(), t.TempDir()
	e := openT(t, dir, &Options{Shared: true, SharedDir: shm})
	defer e.Close()
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ro := range []ReaderOptions{
		{SharedDir: shm},
		{SharedDir: shm, WriterTimeout: -1, LivenessInterval: -1, SnapshotRetries: -1, WaitSpin: -1},
		{SharedDir: shm, SnapshotRetries: math.MaxInt, WaitSpin: math.MaxInt64},
	} {
		var rd *Reader
		if err := callBound(t, "OpenReader", func() error {
			var err error
			rd, err = OpenReader(dir, &ro)
			return err
		}); err != nil {
			t.Fatalf("OpenReader(%+v): %v", ro, err)
		}
		for _, id := range []PageID{0, 999, math.MaxUint64} {
			name := fmt.Sprintf("page %d", id)
			if err := callBound(t, "ReadPage "+name, func() error { _, _, _, err := rd.ReadPage(id, nil); return err }); !errors.Is(err, ErrPageNotFound) || !strings.Contains(err.Error(), fmt.Sprint(id)) {
				t.Errorf("ReadPage(%d) = %v, want ErrPageNotFound naming it", id, err)
			}
			if err := callBound(t, "View "+name, func() error { return rd.View(id, func([]byte) error { return nil }) }); !errors.Is(err, ErrPageNotFound) {
				t.Errorf("View(%d) = %v, want ErrPageNotFound", id, err)
			}
			if err := callBound(t, "Snapshot "+name, func() error { _, _, err := rd.Snapshot([]PageID{ids[0], id}); return err }); !errors.Is(err, ErrPageNotFound) {
				t.Errorf("Snapshot(%d, %d) = %v, want ErrPageNotFound", ids[0], id, err)
			}
		}
		// A nil function panicked inside the seqlock read.
		if err := callBound(t, "View nil function", func() error { return rd.View(ids[0], nil) }); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), "nil function") {
			t.Errorf("View(%d, nil) = %v, want ErrInvalidOption naming the nil function", ids[0], err)
		}
		if b, _, _, err := rd.ReadPage(ids[0], nil); err != nil || len(b) != 8 {
			t.Errorf("control: ReadPage(%d) = %d bytes, %v", ids[0], len(b), err)
		}
		if err := callBound(t, "Wait past the last LSN", func() error {
			c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := rd.Wait(c, math.MaxUint64)
			return err
		}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait(MaxUint64) = %v, want the context's deadline", err)
		}
		rd.Close()
	}
	for _, d := range []string{t.TempDir()} { // "" is ErrInvalidOption: TestReaderOpenRefusesEmptyDir
		if _, err := OpenReader(d, &ReaderOptions{SharedDir: shm}); !errors.Is(err, ErrWriterGone) {
			t.Errorf("OpenReader(%q) without a writer = %v, want ErrWriterGone", d, err)
		}
	}
}

// TestReplayWithNilFunction: the package-level Replay takes the caller's
// Options.Functions unchecked; a nil one is left out (a replay calls no
// function), not passed on to Open, whose refusal its detached bus turned
// into a panic ("an in-memory, log-less open cannot fail") once Open
// refused nil functions.
func TestReplayWithNilFunction(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, nil)
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[1], "passthrough", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	want := hashOf(t, e)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	var b *Bus
	err = callBound(t, "Replay", func() error {
		var err error
		b, err = Replay(ctx, dir, ReplayTarget{}, &Options{Functions: map[string]RecomputeFunc{"passthrough": nil, "x": nil}})
		return err
	})
	if err != nil {
		t.Fatalf("Replay with nil functions: %v", err)
	}
	defer b.Close()
	if got := hashOf(t, b); got != want {
		t.Fatalf("replayed hash %x, want %x", got, want)
	}
	if fn, ok := b.Func("x"); ok || fn != nil {
		t.Fatalf("the replay registered the nil function x")
	}
}

// TestNilArgumentsRefused: a nil pointer or callback where the API needs
// one is refused with the sentinel, naming it, and the bus goes on. Each
// panicked: ApplyReplicated with the bus's write lock held, so that a
// caller that recovered (an RPC server) found every later call hung.
func TestNilArgumentsRefused(t *testing.T) {
	e, ids := refusedFixture(t)
	all := func(*LoggedOp) bool { return true }
	d := Write(ids[0], 0, []byte("x"))
	checkRefused(t, e, []refusedCase{
		{"QueryLog nil callback", func(e *Bus) error { return e.QueryLog(ctx, LogQuery{}, nil) }, ErrInvalidOption, []string{"nil callback"}},
		{"QueryLogDir nil callback", func(e *Bus) error { return QueryLogDir(ctx, e.FS(), "/mmsb", LogQuery{}, nil) }, ErrInvalidOption, []string{"nil callback"}},
		{"QueryLogDir nil filesystem", func(e *Bus) error { return QueryLogDir(ctx, nil, t.TempDir(), LogQuery{}, all) }, ErrInvalidOption, []string{"nil filesystem"}},
		{"PropagateInto nil result", func(e *Bus) error { return e.PropagateInto(ctx, nil) }, ErrInvalidOption, []string{"nil *PropagateResult"}},
		{"Merge nil first", func(*Bus) error { _, err := Merge(nil, &d); return err }, ErrInvalidDelta, []string{"nil delta"}},
		{"Merge nil second", func(*Bus) error { _, err := Merge(&d, nil); return err }, ErrInvalidDelta, []string{"nil delta"}},
	})
}

// TestMissingBusDirRefused: Replay and QueryLogDir read a missing wal/ or
// checkpoints/ as no history, so a directory that does not exist (a typo)
// answered with an empty state at LSN 0, or no operations, and no error.
// It must be ErrInvalidOption naming the directory; an existing directory
// with no bus in it is still an empty history (the control).
func TestMissingBusDirRefused(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-bus")
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	all := func(*LoggedOp) bool { return true }
	for _, dir := range []string{missing, file, ""} {
		err := callBound(t, "Replay "+dir, func() error {
			b, err := Replay(ctx, dir, ReplayTarget{}, nil)
			if b != nil {
				b.Close()
			}
			return err
		})
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), fmt.Sprintf("%q", dir)) {
			t.Errorf("Replay(%q) = %v, want ErrInvalidOption naming it", dir, err)
		}
		err = callBound(t, "QueryLogDir "+dir, func() error { return QueryLogDir(ctx, vfs.Default, dir, LogQuery{}, all) })
		if !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), fmt.Sprintf("%q", dir)) {
			t.Errorf("QueryLogDir(%q) = %v, want ErrInvalidOption naming it", dir, err)
		}
	}
	empty := t.TempDir()
	b, err := Replay(ctx, empty, ReplayTarget{}, nil)
	if err != nil || b.LastLSN() != 0 {
		t.Fatalf("control: Replay of an empty directory = %v, want an empty state", err)
	}
	b.Close()
	if err := QueryLogDir(ctx, vfs.Default, empty, LogQuery{}, all); err != nil {
		t.Fatalf("control: QueryLogDir of an empty directory = %v", err)
	}

	f := openMem(t, &Options{Follower: true})
	checkRefused(t, f, []refusedCase{
		{"ApplyReplicated nil record", func(f *Bus) error { return f.ApplyReplicated(ctx, nil) }, ErrInvalidOption, []string{"nil record"}},
	})
	// The follower is not left locked: a call after the refusal returns.
	if err := callBound(t, "ApplyReplicated after a nil record", func() error {
		return f.ApplyReplicated(ctx, &ReplicatedRecord{FirstLSN: 5, LastLSN: 5})
	}); !errors.Is(err, ErrReplicaOrder) {
		t.Fatalf("ApplyReplicated after a nil record = %v, want ErrReplicaOrder", err)
	}
}

// TestClockPanicRefused: Options.Clock is called with the bus's write lock
// held; a panic in it left the lock held, so that a caller that recovered
// it found every later call, Close too, hung. Each call that stamps a time
// must fail with ErrInvalidOption naming the clock, log nothing, and leave
// the bus usable once the clock works.
func TestClockPanicRefused(t *testing.T) {
	var broken atomic.Bool
	var now int64
	e := openMem(t, &Options{Functions: fuzzFuncs(), Clock: func() int64 {
		if broken.Load() {
			panic("clock unplugged")
		}
		now += 1000
		return now
	}})
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[1], "passthrough", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("a"))}); err != nil { // ids[1] waits for a wave
		t.Fatal(err)
	}
	names := []string{"Options.Clock panicked", "clock unplugged"}
	broken.Store(true)
	checkRefused(t, e, []refusedCase{
		{"Commit", func(e *Bus) error { _, err := e.Commit(ctx, []Delta{Write(ids[0], 0, []byte("b"))}); return err }, ErrInvalidOption, names},
		{"CommitAsync", func(e *Bus) error { _, err := e.CommitAsync(ctx, []Delta{Write(ids[0], 0, []byte("b"))}); return err }, ErrInvalidOption, names},
		{"CreatePages", func(e *Bus) error { _, err := e.CreatePages(ctx, []PageSpec{{Size: 8}}); return err }, ErrInvalidOption, names},
		{"SetMetadata", func(e *Bus) error { return e.SetMetadata(ctx, ids[0], []MetaEntry{{Key: "k"}}) }, ErrInvalidOption, names},
		{"Propagate", func(e *Bus) error { _, err := e.Propagate(ctx); return err }, ErrInvalidOption, names},
	})
	broken.Store(false)
	if err := callBound(t, "Propagate with the clock back", func() error { _, err := e.Propagate(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _, err := e.ReadPage(ids[1], nil); err != nil || b[0] != 'a' {
		t.Fatalf("derived page after the wave = %q, %v; want the parent's byte", b, err)
	}
	if err := callBound(t, "Close", e.Close); err != nil {
		t.Fatal(err)
	}
}

// one is 1 as a variable, so that shifting it past an int's width on
// 32-bit platforms is a run-time value, not a constant that overflows.
var one = 1
