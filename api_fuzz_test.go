package mmsb

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// apiSentinels are the exported errors a caller can test for: every error
// the root package returns must wrap one of them (or a context error).
var apiSentinels = []error{
	ErrPageNotFound, ErrPageExists, ErrInvalidPage, ErrInvalidDelta,
	ErrOutOfRange, ErrConflict, ErrCorruption, ErrCycle, ErrClosed,
	ErrFailed, ErrLocked, ErrUnknownFunc, ErrPageInUse, ErrNotDerived,
	ErrRecompute, ErrLogTruncated, ErrBusy, ErrNoCheckpoint, ErrNoSpace,
	ErrInvalidOption, ErrCheckpointFailing, ErrWriterGone, ErrStale,
	ErrSharedCorrupt, ErrSnapshotBusy, ErrReplication, ErrFollower,
	ErrReplicaOrder, ErrReplicaDiverged, ErrRecordTooLarge,
	context.Canceled, context.DeadlineExceeded,
}

// wrapsSentinel reports whether err wraps one of apiSentinels.
func wrapsSentinel(err error) bool {
	for _, s := range apiSentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fuzzFuncs are user recompute functions that misbehave on purpose: one
// panics, one keeps its inputs and writes them on the next call, one
// returns an error.
func fuzzFuncs() map[string]RecomputeFunc {
	var kept [][]byte
	return map[string]RecomputeFunc{
		"fuzz.panic": func(inputs [][]byte, params, out []byte) error {
			if len(params) > 0 && params[0]&1 == 1 {
				panic("fuzz.panic asked to panic")
			}
			for i := range out {
				out[i]++
			}
			return nil
		},
		"fuzz.keep": func(inputs [][]byte, params, out []byte) error {
			for _, in := range kept {
				for i := range in {
					in[i] ^= 0xff // writes inputs kept from an earlier call
				}
			}
			kept = inputs
			for _, in := range inputs {
				copy(out, in)
			}
			return nil
		},
		"fuzz.fail": func(inputs [][]byte, params, out []byte) error {
			return errors.New("fuzz.fail always fails")
		},
	}
}

// fuzzReader hands out the fuzz bytes as small values; it returns zeros
// once they run out.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) more() bool { return len(r.b) > 0 }

func (r *fuzzReader) u8() uint8 {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *fuzzReader) u32() uint32 {
	if len(r.b) < 4 {
		return uint32(r.u8())
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *fuzzReader) bytes(max int) []byte {
	n := int(r.u8()) % (max + 1)
	n = min(n, len(r.b))
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// int picks an int that is often at an edge: 0, negative, huge, or small.
func (r *fuzzReader) int() int {
	switch r.u8() % 8 {
	case 0:
		return 0
	case 1:
		return -1 - int(r.u8())
	case 2:
		return math.MaxInt - int(r.u8())
	case 3:
		return math.MinInt + int(r.u8())
	case 4:
		return int(r.u32())
	default:
		return int(r.u8())
	}
}

// u64 picks a uint64 that is often at an edge.
func (r *fuzzReader) u64(small uint64) uint64 {
	switch r.u8() % 6 {
	case 0:
		return 0
	case 1:
		return math.MaxUint64 - uint64(r.u8())
	case 2:
		return 1<<63 + uint64(r.u8())
	case 3:
		return uint64(r.u32())
	default:
		return small + uint64(r.u8()%4)
	}
}

// page picks a page ID: usually a live one, else an edge value.
func (r *fuzzReader) page(e *Bus) PageID {
	ids, _ := e.PageIDs()
	sel := r.u8()
	if len(ids) > 0 && sel < 200 {
		return ids[int(sel)%len(ids)]
	}
	return PageID(r.u64(uint64(len(ids)) + 1))
}

func (r *fuzzReader) pages(e *Bus, max int) []PageID {
	n := int(r.u8()) % (max + 1)
	if n == max && r.u8()&1 == 1 {
		return nil
	}
	out := make([]PageID, n)
	for i := range out {
		out[i] = r.page(e)
	}
	return out
}

func (r *fuzzReader) meta() []MetaEntry {
	n := int(r.u8() % 4)
	if n == 0 {
		return nil
	}
	keys := []string{"", "k", "mmsb.type", "mmsb.other", "k", strings.Repeat("x", 70000)}
	out := make([]MetaEntry, n)
	for i := range out {
		out[i] = MetaEntry{Key: keys[int(r.u8())%len(keys)], Value: r.bytes(8)}
		if r.u8() == 0xff {
			out[i].Value = make([]byte, 1<<17)
		}
	}
	return out
}

func (r *fuzzReader) delta(e *Bus) Delta {
	d := Delta{Page: r.page(e), Form: Form(r.u8() % 5), Source: string(r.bytes(4)), Intent: r.bytes(4)}
	if r.u8()&1 == 1 {
		d.CheckEpoch, d.ExpectEpoch = true, Epoch(r.u64(0))
	}
	switch d.Form {
	case FormRuns:
		n := int(r.u8() % 4)
		if n > 0 {
			d.Runs = make([]Run, n)
			for i := range d.Runs {
				d.Runs[i] = Run{Offset: uint32(r.u64(0)), Data: r.bytes(12)}
			}
		}
	default:
		d.Mask, d.Payload = r.bytes(12), r.bytes(24)
		d.MaskLen = r.u32()
		d.LSN, d.Epoch, d.Time = LSN(r.u64(0)), Epoch(r.u64(0)), int64(r.int())
	}
	return d
}

// fuzzErrs checks an API call's error: it must wrap an exported sentinel.
func fuzzErr(t *testing.T, call string, err error) {
	t.Helper()
	if err != nil && !wrapsSentinel(err) {
		t.Fatalf("%s: error wraps no exported sentinel: %v", call, err)
	}
}

// runAPIOps decodes and runs a sequence of API calls on e, checking each
// error; it returns the number of calls run.
func runAPIOps(t *testing.T, e *Bus, data []byte) int {
	t.Helper()
	r := &fuzzReader{b: data}
	calls := 0
	for r.more() && calls < 64 {
		calls++
		op := r.u8() % 22
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var err error
		var call string
		// A call that does not return is a hang: crash with every
		// goroutine's stack so that the fuzzer keeps the input.
		start := time.Now()
		watchdog := time.AfterFunc(10*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("API call %d (op %d) did not return within 10s:\n%s", calls, op, buf[:runtime.Stack(buf, true)]))
		})
		switch op {
		case 0, 1:
			n := int(r.u8() % 4)
			specs := make([]PageSpec, n)
			for i := range specs {
				specs[i] = PageSpec{
					ID:       PageID(r.u64(0)),
					Size:     []int{8, 16, 0, -1, MaxPageSize + 1, math.MaxInt, 1, 64}[r.u8()%8],
					Location: Location(r.u8() % 5),
					Meta:     r.meta(),
				}
			}
			call = fmt.Sprintf("CreatePages(%+v)", specs)
			_, err = e.CreatePages(cctx, specs)
		case 2, 3:
			n := int(r.u8() % 4)
			ds := make([]Delta, n)
			for i := range ds {
				ds[i] = r.delta(e)
			}
			call = "Commit"
			if op == 3 {
				call = "CommitAsync"
				_, err = e.CommitAsync(cctx, ds)
			} else {
				_, err = e.Commit(cctx, ds)
			}
		case 4:
			call = "FreePage"
			err = e.FreePage(cctx, r.page(e))
		case 5:
			call = "SetMetadata"
			err = e.SetMetadata(cctx, r.page(e), r.meta())
		case 6:
			call = "AddEdge"
			err = e.AddEdge(cctx, r.page(e), r.page(e), EdgeType(r.u8()%6))
		case 7:
			call = "RemoveEdge"
			if r.u8()&1 == 0 {
				err = e.RemoveEdge(cctx, r.page(e), r.page(e), EdgeType(r.u8()%6))
			} else {
				err = e.RemoveEdges(cctx, r.page(e), r.page(e))
			}
		case 8, 9:
			fns := []string{"", "nope", "passthrough", "f64.sum", "fuzz.panic", "fuzz.keep", "fuzz.fail", "bool.reach"}
			fn := fns[r.u8()%uint8(len(fns))]
			call = "Bind(" + fn + ")"
			err = e.Bind(cctx, r.page(e), fn, r.bytes(16), r.pages(e, 4))
		case 10:
			call = "Unbind"
			err = e.Unbind(cctx, r.page(e))
		case 11:
			call = "Propagate"
			_, err = e.Propagate(cctx)
		case 12:
			call = "ClearFlags"
			err = e.ClearFlags(cctx, r.page(e), r.u8())
		case 13:
			call = "ReadPageRange"
			_, _, err = e.ReadPageRange(r.page(e), r.int(), r.int(), nil)
		case 14:
			call = "ReadPageAt"
			_, _, err = e.ReadPageAt(cctx, r.page(e), LSN(r.u64(uint64(e.LastLSN()))))
		case 15:
			call = "ProvenanceWith"
			_, err = e.ProvenanceWith(cctx, r.page(e), r.int(), r.int(), ProvenanceOptions{Depth: r.int(), NoLogDetails: r.u8()&1 == 1})
		case 16:
			q := LogQuery{Page: r.page(e), FromLSN: LSN(r.u64(0)), ToLSN: LSN(r.u64(uint64(e.LastLSN()))),
				FromTime: int64(r.int()), ToTime: int64(r.int()), Source: string(r.bytes(4))}
			for range r.u8() % 3 {
				q.Kinds = append(q.Kinds, OpKind(r.u8()%13))
			}
			call = fmt.Sprintf("QueryLog(%+v)", q)
			err = e.QueryLog(cctx, q, func(*LoggedOp) bool { return r.u8() != 0 })
		case 17:
			tg := ReplayTarget{ToLSN: LSN(r.u64(uint64(e.LastLSN()))), ToTime: int64(r.int()), Page: r.page(e),
				Epoch: Epoch(r.u64(1)), FromEmpty: r.u8()&1 == 1, FromOldestCheckpoint: r.u8()&1 == 1}
			call = fmt.Sprintf("Replay(%+v)", tg)
			var rb *Bus
			rb, err = e.Replay(cctx, tg)
			if rb != nil {
				rb.Close()
			}
		case 18:
			call = "Checkpoint"
			_, err = e.Checkpoint(cctx)
		case 19:
			n := int(r.u8() % 4)
			ds := make([]Delta, n)
			for i := range ds {
				ds[i] = r.delta(e)
			}
			call = "ValidateBatch"
			_, err = e.ValidateBatch(ds, func(i int, err error) { fuzzErr(t, "ValidateBatch reject", err) })
		case 20:
			call = "WaitDurable"
			err = e.WaitDurable(cctx, LSN(r.u64(uint64(e.LastLSN()))))
		case 21:
			id := r.page(e)
			call = "describe"
			_, err = e.Page(id)
			fuzzErr(t, "Page", err)
			_, err = e.Flags(id)
			fuzzErr(t, "Flags", err)
			e.Children(id)
			e.Parents(id)
			e.Descendants(id)
			e.Binding(id)
			e.LastDerivation(id)
			_, _, err = e.ReadPage(id, nil)
		}
		watchdog.Stop()
		if d := time.Since(start); d > time.Second {
			t.Fatalf("%s: took %v", call, d)
		}
		cancel()
		if cctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: did not return within 2s", call)
		}
		fuzzErr(t, call, err)
		if e.Err() != nil {
			t.Fatalf("%s: bus no longer usable: %v (call error %v)", call, e.Err(), err)
		}
	}
	return calls
}

// FuzzBusAPINeverPanics runs a short sequence of public API calls with
// arbitrary arguments on an in-memory bus: no call may panic, hang, fail
// the bus or return an error that wraps no exported sentinel, and at the
// end a replay of the log must equal the live state.
func FuzzBusAPINeverPanics(f *testing.F) {
	f.Add([]byte{0, 2, 0, 0, 8, 0, 0, 0, 0, 0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 4, 'a', 'b', 'c', 'd', 11})
	f.Add([]byte{0, 3, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 8, 0, 1, 0, 4, 1, 2, 1, 1, 0, 11, 13, 0, 2, 0, 2})
	f.Add([]byte{1, 1, 0, 5, 1, 0, 16, 0, 0, 1, 0, 4, 0, 0, 17, 0, 0, 0, 0, 0, 1, 1, 15, 0, 4, 1, 4, 2, 0})
	f.Add([]byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 9, 4, 1, 0, 1, 1, 0, 0, 2, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 'x', 11, 14, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Open("", &Options{Clock: testClock(), Functions: fuzzFuncs(), HistoryEntries: 16})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		runAPIOps(t, e, data)
		rep, err := e.VerifyReplay(context.Background(), false)
		if err != nil {
			t.Fatalf("VerifyReplay: %v", err)
		}
		if !rep.Equal() {
			t.Fatalf("replay differs from the live state: %v", rep.Differences)
		}
		// Control: the comparison can fail. A byte changed behind the log
		// must make the replay differ.
		ids, err := e.PageIDs()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			sl, _ := e.store.Lookup(id)
			if b := e.store.Bytes(sl); len(b) > 0 {
				b[0] ^= 0xff
				rep, err := e.VerifyReplay(context.Background(), false)
				b[0] ^= 0xff
				if err != nil || rep.Equal() {
					t.Fatalf("control: page %d changed behind the log, VerifyReplay = %+v, %v; want a difference", id, rep, err)
				}
				break
			}
		}
	})
}
