package tick

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/semiring"
)

// errInjected is what the "test.fail" recompute function returns while
// failing is switched on.
var errInjected = errors.New("injected recompute failure")

// countingFuncs returns recompute functions for tests:
//
//	test.count  passthrough of the first parent's bytes, counting calls per
//	            output page (identified by the first 8 bytes of params, or 0)
//	test.fail   f64.sum, but returns errInjected while *failing is true
//	test.panic  panics while *failing is true, else f64.sum
func countingFuncs(calls *sync.Map, failing *bool) map[string]mmsb.RecomputeFunc {
	sum, _ := semiring.Lookup("f64.sum")
	return map[string]mmsb.RecomputeFunc{
		"test.count": func(in [][]byte, params, out []byte) error {
			var key uint64
			if len(params) >= 8 {
				key = uint64(semiring.I64At(params, 0))
			}
			v, _ := calls.LoadOrStore(key, new(int64))
			*v.(*int64)++
			n := copy(out, in[0])
			clear(out[n:])
			return nil
		},
		"test.fail": func(in [][]byte, params, out []byte) error {
			if *failing {
				return errInjected
			}
			return sum(in, params, out)
		},
		"test.panic": func(in [][]byte, params, out []byte) error {
			if *failing {
				panic("boom")
			}
			return sum(in, params, out)
		},
	}
}

// scenario is the state of one datadriven file.
type scenario struct {
	t       *testing.T
	dir     string
	opts    mmsb.Options
	topts   Options
	e       *mmsb.Bus
	o       *Orchestrator
	sub     *Subscription
	types   map[mmsb.PageID]string // declared element type per page
	calls   sync.Map
	failing bool
}

func (s *scenario) close() {
	if s.o != nil {
		s.o.Close()
	}
	if s.e != nil {
		s.e.Close()
	}
	s.o, s.e, s.sub = nil, nil, nil
}

func (s *scenario) open(t *testing.T) {
	var err error
	s.e, err = mmsb.Open(s.dir, &s.opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	s.o, err = New(s.e, &s.topts)
	if err != nil {
		t.Fatal(err)
	}
	s.sub, err = s.o.Subscribe(EventFilter{}, 1<<16, false)
	if err != nil {
		t.Fatal(err)
	}
}

// drainEvents renders the events received so far, one per line.
func (s *scenario) drainEvents(b *strings.Builder) {
	for {
		select {
		case ev := <-s.sub.C:
			if ev.Type == EventTickOverrun {
				continue // timing dependent
			}
			fmt.Fprintf(b, "%v\n", ev)
		default:
			return
		}
	}
}

func argIDs(t *testing.T, td *datadriven.TestData, key string) []mmsb.PageID {
	arg, ok := td.Arg(key)
	if !ok {
		td.Fatalf(t, "missing %s=", key)
	}
	var ids []mmsb.PageID
	for _, v := range arg.Vals {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			td.Fatalf(t, "%s: %v", key, err)
		}
		ids = append(ids, mmsb.PageID(n))
	}
	return ids
}

func argF64s(t *testing.T, td *datadriven.TestData, key string) []float64 {
	arg, _ := td.Arg(key)
	var out []float64
	for _, v := range arg.Vals {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			td.Fatalf(t, "%s: %v", key, err)
		}
		out = append(out, f)
	}
	return out
}

func argStr(td *datadriven.TestData, key, def string) string {
	if arg, ok := td.Arg(key); ok && len(arg.Vals) > 0 {
		return arg.Vals[0]
	}
	return def
}

func parseEdgeType(s string) (mmsb.EdgeType, error) {
	switch s {
	case "data":
		return mmsb.EdgeData, nil
	case "control":
		return mmsb.EdgeControl, nil
	case "gpu":
		return mmsb.EdgeGPUSync, nil
	case "compiler":
		return mmsb.EdgeCompiler, nil
	}
	return 0, fmt.Errorf("unknown edge type %q", s)
}

// encodeValues builds page bytes from f64=, i64=, bool= or str= arguments.
func encodeValues(t *testing.T, td *datadriven.TestData) []byte {
	switch {
	case td.HasArg("f64"):
		return semiring.AppendF64(nil, argF64s(t, td, "f64")...)
	case td.HasArg("i64"):
		var b []byte
		for _, f := range argF64s(t, td, "i64") {
			b = semiring.AppendI64(b, int64(f))
		}
		return b
	case td.HasArg("bool"):
		var b []byte
		for _, f := range argF64s(t, td, "bool") {
			b = semiring.AppendBool(b, f != 0)
		}
		return b
	case td.HasArg("str"):
		return []byte(argStr(td, "str", ""))
	}
	td.Fatalf(t, "no value argument (f64=, i64=, bool=, str=)")
	return nil
}

func (s *scenario) render(id mmsb.PageID, b []byte) string {
	switch s.types[id] {
	case "f64":
		var parts []string
		for i := 0; i+8 <= len(b); i += 8 {
			parts = append(parts, strconv.FormatFloat(semiring.F64At(b, i/8), 'g', -1, 64))
		}
		return strings.Join(parts, " ")
	case "i64":
		var parts []string
		for i := 0; i+8 <= len(b); i += 8 {
			parts = append(parts, strconv.FormatInt(semiring.I64At(b, i/8), 10))
		}
		return strings.Join(parts, " ")
	case "bool":
		var parts []string
		for _, c := range b {
			parts = append(parts, strconv.Itoa(int(c)))
		}
		return strings.Join(parts, " ")
	}
	return fmt.Sprintf("%q", b)
}

func (s *scenario) tickOutput(r *Result, err error) string {
	var b strings.Builder
	p := &r.Propagation
	fmt.Fprintf(&b, "tick %d: drained=%d committed=%d rejected=%d", r.Tick, r.Drained, r.Committed, r.Rejected)
	if r.Propagated {
		fmt.Fprintf(&b, " recomputed=%d cutoffs=%d writes=%d flags=%d", p.Recomputed, p.Cutoffs, len(p.Writes), len(p.Flags))
	}
	if r.InvariantsRun > 0 {
		fmt.Fprintf(&b, " invariants=%d failed=%d", r.InvariantsRun, r.InvariantFailures)
	}
	b.WriteString("\n")
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	s.drainEvents(&b)
	return b.String()
}

func (s *scenario) run(t *testing.T, td *datadriven.TestData) string {
	switch td.Cmd {
	case "open":
		s.close()
		s.types = map[mmsb.PageID]string{}
		s.failing = false
		s.calls = sync.Map{}
		s.opts = mmsb.Options{Clock: testClock(), Functions: countingFuncs(&s.calls, &s.failing)}
		s.topts = Options{Deferred: td.HasArg("deferred")}
		if td.HasArg("workers") {
			td.ScanArgs(t, "workers", &s.opts.Workers)
		}
		s.dir = ""
		if td.HasArg("disk") {
			s.dir = filepath.Join(t.TempDir(), "bus")
		}
		s.open(t)
		return "ok"
	case "reopen":
		s.o.Close()
		if err := s.e.Close(); err != nil {
			return fmt.Sprintf("error: %v", err)
		}
		s.opts.Clock = testClock()
		s.open(t)
		var b strings.Builder
		fmt.Fprintf(&b, "lsn=%d bindings=%d edges=%d pending=%d\n", s.e.LastLSN(), len(s.e.Bindings()), len(s.e.Edges()), s.e.Pending())
		return b.String()
	case "create":
		ids := argIDs(t, td, "ids")
		size := 8
		if td.HasArg("size") {
			td.ScanArgs(t, "size", &size)
		}
		typ := argStr(td, "type", "")
		specs := make([]mmsb.PageSpec, len(ids))
		for i, id := range ids {
			specs[i] = mmsb.PageSpec{ID: id, Size: size}
			if typ != "" {
				specs[i].Meta = []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte(typ)}}
			}
			s.types[id] = typ
		}
		if _, err := s.e.CreatePages(ctx, specs); err != nil {
			return fmt.Sprintf("error: %v", err)
		}
		return "ok"
	case "bind":
		var child uint64
		td.ScanArgs(t, "child", &child)
		fn := argStr(td, "fn", "")
		var params []byte
		if td.HasArg("weights") {
			params = semiring.AppendF64(nil, argF64s(t, td, "weights")...)
		}
		if td.HasArg("bweights") {
			for _, f := range argF64s(t, td, "bweights") {
				params = semiring.AppendBool(params, f != 0)
			}
		}
		if td.HasArg("key") {
			var k int64
			td.ScanArgs(t, "key", &k)
			params = semiring.AppendI64(nil, k)
		}
		if err := s.e.Bind(ctx, mmsb.PageID(child), fn, params, argIDs(t, td, "parents")); err != nil {
			return fmt.Sprintf("error: %v", err)
		}
		return "ok"
	case "edge":
		var parent, child uint64
		td.ScanArgs(t, "parent", &parent)
		td.ScanArgs(t, "child", &child)
		typ, err := parseEdgeType(argStr(td, "type", "data"))
		if err != nil {
			td.Fatalf(t, "%v", err)
		}
		if err := s.e.AddEdge(ctx, mmsb.PageID(parent), mmsb.PageID(child), typ); err != nil {
			return fmt.Sprintf("error: %v", err)
		}
		return "ok"
	case "write":
		var id uint64
		td.ScanArgs(t, "page", &id)
		off := 0
		if td.HasArg("off") {
			td.ScanArgs(t, "off", &off)
		}
		d := delta.Delta{Page: mmsb.PageID(id), Source: "test", Runs: []delta.Run{{Offset: uint32(off), Data: encodeValues(t, td)}}}
		if err := s.o.Submit(ctx, &d); err != nil {
			return fmt.Sprintf("error: %v", err)
		}
		return "queued"
	case "tick":
		r, err := s.o.Tick(ctx)
		if r == nil {
			return fmt.Sprintf("error: %v", err)
		}
		return s.tickOutput(r, err)
	case "flush":
		p, err := s.o.FlushPropagation(ctx)
		var b strings.Builder
		fmt.Fprintf(&b, "flush: roots=%d recomputed=%d cutoffs=%d writes=%d flags=%d\n", p.Roots, p.Recomputed, p.Cutoffs, len(p.Writes), len(p.Flags))
		if err != nil {
			fmt.Fprintf(&b, "error: %v\n", err)
		}
		s.drainEvents(&b)
		return b.String()
	case "read":
		var b strings.Builder
		for _, id := range argIDs(t, td, "pages") {
			data, ep, err := s.e.ReadPage(id, nil)
			if err != nil {
				fmt.Fprintf(&b, "%d: error: %v\n", id, err)
				continue
			}
			fmt.Fprintf(&b, "%d: epoch=%d [%s]\n", id, ep, s.render(id, data))
		}
		return b.String()
	case "flags":
		var b strings.Builder
		for _, id := range argIDs(t, td, "pages") {
			f, err := s.e.Flags(id)
			if err != nil {
				fmt.Fprintf(&b, "%d: error: %v\n", id, err)
				continue
			}
			fmt.Fprintf(&b, "%d: %s\n", id, mmsb.FlagNames(f))
		}
		return b.String()
	case "clear-flags":
		var id uint64
		td.ScanArgs(t, "page", &id)
		if err := s.e.ClearFlags(ctx, mmsb.PageID(id), 0xFF); err != nil {
			return fmt.Sprintf("error: %v", err)
		}
		return "ok"
	case "fail":
		s.failing = argStr(td, "on", "") != "" || td.HasArg("on")
		return "ok"
	case "calls":
		var keys []uint64
		s.calls.Range(func(k, _ any) bool { keys = append(keys, k.(uint64)); return true })
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		var b strings.Builder
		for _, k := range keys {
			v, _ := s.calls.Load(k)
			fmt.Fprintf(&b, "%d: %d\n", k, *v.(*int64))
		}
		s.calls = sync.Map{}
		if b.Len() == 0 {
			return "none"
		}
		return b.String()
	case "pending":
		return strconv.Itoa(s.e.Pending())
	case "replay":
		rep, err := s.e.VerifyReplay(ctx, false)
		if err != nil {
			return fmt.Sprintf("error: %v", err)
		}
		if !rep.Equal() {
			return fmt.Sprintf("differs: %v", rep.Differences)
		}
		return fmt.Sprintf("equal at lsn %d", rep.LSN)
	case "provenance":
		var id uint64
		td.ScanArgs(t, "page", &id)
		dr, ok := s.e.LastDerivation(mmsb.PageID(id))
		if !ok {
			return "none"
		}
		return fmt.Sprintf("lsn=%d reads=%v", dr.LSN, dr.Reads)
	}
	td.Fatalf(t, "unknown command %q", td.Cmd)
	return ""
}

// TestPropagationScenarios runs the datadriven files under
// testdata/propagation (rewrite expectations with -rewrite).
func TestPropagationScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/propagation", func(t *testing.T, path string) {
		s := &scenario{t: t}
		defer s.close()
		datadriven.RunTest(t, path, s.run)
	})
}
