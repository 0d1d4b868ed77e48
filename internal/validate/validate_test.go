package validate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/tick"
	"github.com/mmsb-go/mmsb/vfs"
)

var ctx = context.Background()

const busDir = "/bus"

func testClock() func() int64 {
	var t int64 = 1_700_000_000_000_000_000
	return func() int64 { t += 1000; return t }
}

func openBus(tb testing.TB, fs vfs.FS, funcs map[string]mmsb.RecomputeFunc) *mmsb.Bus {
	tb.Helper()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), Functions: funcs})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func f64Meta() []mmsb.MetaEntry {
	return []mmsb.MetaEntry{{Key: mmsb.TypeMetaKey, Value: []byte("f64")}}
}

// populate builds a bus of n source pages (float64), chains of derived
// pages (passthrough and f64.sum), a checkpoint in the middle, and rounds
// of writes with propagation. It returns the source and derived page IDs.
func populate(tb testing.TB, e *mmsb.Bus, n, rounds int) (src, derived []mmsb.PageID) {
	tb.Helper()
	specs := make([]mmsb.PageSpec, n)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 64, Meta: f64Meta()}
	}
	src, err := e.CreatePages(ctx, specs)
	if err != nil {
		tb.Fatal(err)
	}
	derived, err = e.CreatePages(ctx, specs[:n/2])
	if err != nil {
		tb.Fatal(err)
	}
	for i, d := range derived {
		fn, parents := "passthrough", []mmsb.PageID{src[2*i]}
		if i%2 == 1 {
			fn, parents = "f64.sum", []mmsb.PageID{src[2*i], src[2*i+1]}
		}
		if err := e.Bind(ctx, d, fn, nil, parents); err != nil {
			tb.Fatal(err)
		}
	}
	for r := 0; r < rounds; r++ {
		ds := make([]delta.Delta, 0, n)
		for i, id := range src {
			if (i+r)%3 == 0 {
				continue
			}
			v := semiring.AppendF64(nil, float64(r*1000+i), float64(i)/7)
			ds = append(ds, delta.Delta{Page: id, Source: "test", Intent: []byte(fmt.Sprintf(`{"r":%d}`, r)),
				Runs: []delta.Run{{Offset: uint32(8 * (r % 6)), Data: v}}})
		}
		if _, err := e.Commit(ctx, ds); err != nil {
			tb.Fatal(err)
		}
		if _, err := e.Propagate(ctx); err != nil {
			tb.Fatal(err)
		}
		if r == rounds/2 {
			if _, err := e.Checkpoint(ctx); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return src, derived
}

func requireOK(t *testing.T, rep Report, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", rep.Name, err)
	}
	if !rep.OK() {
		t.Fatalf("%s: %d problem(s) on a clean bus: %v", rep.Name, rep.Total, rep.Problems)
	}
	if rep.Checked == 0 {
		t.Fatalf("%s checked nothing", rep.Name)
	}
}

func requireProblem(t *testing.T, rep Report, err error, substr string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", rep.Name, err)
	}
	for _, p := range rep.Problems {
		if strings.Contains(p.What, substr) {
			if p.Validator != rep.Name {
				t.Fatalf("problem carries validator %q, report is %q", p.Validator, rep.Name)
			}
			return
		}
	}
	t.Fatalf("%s: no problem containing %q among %d: %v", rep.Name, substr, rep.Total, rep.Problems)
}

func TestCleanBusPassesEveryValidator(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	defer e.Close()
	populate(t, e, 40, 12)
	for _, target := range []struct {
		name string
		t    Target
	}{{"live", Live(e)}, {"offline", Offline(fs, busDir, nil)}} {
		t.Run(target.name, func(t *testing.T) {
			reps, err := RunAll(ctx, target.t, Options{Samples: -1})
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != len(All()) {
				t.Fatalf("%d reports", len(reps))
			}
			for _, rep := range reps {
				if target.name == "offline" && rep.Name == "provenance" {
					// The rebuilt bus keeps no log: every sample is
					// skipped (TestProvenanceNotComparedWhenEverySampleSkipped).
					if rep.Outcome() != OutcomeNotCompared {
						t.Fatalf("offline provenance: outcome %q, want %q", rep.Outcome(), OutcomeNotCompared)
					}
					continue
				}
				requireOK(t, rep, nil)
			}
		})
	}
	rep, err := Replay(ctx, Live(e), Options{})
	requireOK(t, rep, err)
	if v, _ := rep.Figure("bytes_differing"); v != 0 {
		t.Fatalf("bytes differing %v", v)
	}
}

func TestReportCapsAndStreams(t *testing.T) {
	var streamed int
	o := Options{MaxProblems: 2, OnProblem: func(Problem) { streamed++ }}
	v := GraphView{Pages: map[mmsb.PageID]int{}, Edges: []mmsb.Edge{{Parent: 1, Child: 2}, {Parent: 3, Child: 4}}}
	rep := CheckGraphView(v, o)
	if rep.Total != 4 || len(rep.Problems) != 2 || streamed != 4 {
		t.Fatalf("total %d kept %d streamed %d, want 4/2/4", rep.Total, len(rep.Problems), streamed)
	}
	if err := rep.Err(); !errors.Is(err, ErrProblems) {
		t.Fatalf("Err() = %v", err)
	}
}

// rewriteCheckpoint rewrites the newest checkpoint with page id's first
// byte changed (a well-framed but wrong checkpoint).
func rewriteCheckpoint(t *testing.T, fs vfs.FS, id mmsb.PageID) {
	t.Helper()
	rewriteCheckpointWith(t, fs, id, func(img *record.PageImage) {
		img.Data = append([]byte(nil), img.Data...)
		img.Data[7] ^= 0x40 // the exponent of element 0: a large float difference
	})
}

// rewriteCheckpointWith rewrites the newest checkpoint with page id's image
// changed by mutate.
func rewriteCheckpointWith(t *testing.T, fs vfs.FS, id mmsb.PageID, mutate func(*record.PageImage)) {
	t.Helper()
	editCheckpoint(t, fs, func(img *record.PageImage) bool {
		if img.ID == id {
			mutate(img)
		}
		return true
	})
}

// editCheckpoint rewrites the newest checkpoint (a well-framed file, CRCs
// valid) with every page image passed through edit, which may change it in
// place; an image for which edit returns false is left out.
func editCheckpoint(t *testing.T, fs vfs.FS, edit func(*record.PageImage) (keep bool)) {
	t.Helper()
	ckDir := fs.Join(busDir, "checkpoints")
	list, err := checkpoint.List(fs, ckDir)
	if err != nil || len(list) == 0 {
		t.Fatal("no checkpoint", err)
	}
	rd, err := checkpoint.Open(fs, list[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		kind    uint8
		payload []byte
	}
	var recs []rec
	for {
		kind, payload, err := rd.Next()
		if err != nil {
			break
		}
		payload = append([]byte(nil), payload...)
		if kind == record.CkptPage {
			var img record.PageImage
			if err := record.DecodePage(payload, &img); err != nil {
				t.Fatal(err)
			}
			img.Data = append([]byte(nil), img.Data...)
			img.Meta = append([]byte(nil), img.Meta...)
			if !edit(&img) {
				continue
			}
			payload = record.AppendPage(nil, &img)
		}
		recs = append(recs, rec{kind, payload})
	}
	rd.Close()
	w, err := checkpoint.Create(fs, ckDir, list[0].LSN)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Append(r.kind, r.payload); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestReplayCatchesDivergentCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	src, _ := populate(t, e, 10, 4)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e.Close()
	rewriteCheckpoint(t, fs, src[3])

	rep, err := Replay(ctx, Offline(fs, busDir, nil), Options{})
	requireProblem(t, rep, err, "byte(s) differ")
	if v, _ := rep.Figure("bytes_differing"); v != 1 {
		t.Fatalf("offline bytes differing = %v, want 1", v)
	}
	e = openBus(t, fs, nil) // the live state now comes from the bad checkpoint
	defer e.Close()
	rep, err = Replay(ctx, Live(e), Options{})
	requireProblem(t, rep, err, "diverges")
	if v, _ := rep.Figure("l2_divergence"); v == 0 || math.IsNaN(v) {
		t.Fatalf("l2 divergence %v, want > 0 for a changed f64 page", v)
	}
}

func segmentPath(t *testing.T, fs vfs.FS) string {
	t.Helper()
	wal := fs.Join(busDir, "wal")
	names, err := fs.List(wal)
	if err != nil || len(names) == 0 {
		t.Fatal("no segment", err)
	}
	return fs.Join(wal, names[0])
}

// segmentNames lists the log segments in wal, oldest first: the other
// files the log keeps there (its newest-segment file) are no segment.
func segmentNames(t *testing.T, fs vfs.FS, wal string) []string {
	t.Helper()
	names, err := fs.List(wal)
	if err != nil {
		t.Fatalf("wal: %v", err)
	}
	var segs []string
	for _, n := range names {
		if _, ok := tlog.ParseSegmentName(n); ok {
			segs = append(segs, n)
		}
	}
	if len(segs) == 0 {
		t.Fatalf("no segment in %s among %v", wal, names)
	}
	return segs
}

func writeFile(t *testing.T, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestIntegrityCatchesFlippedByte(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	populate(t, e, 10, 6)
	e.Close()
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)

	seg := segmentPath(t, fs)
	b := testutil.ReadFile(t, fs, seg)
	b[len(b)/2] ^= 0x01
	writeFile(t, fs, seg, b)
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireProblem(t, rep, err, "checksum mismatch")
	for _, p := range rep.Problems {
		if strings.Contains(p.What, "orphan") || strings.Contains(p.What, "last write") {
			t.Fatalf("cascade after a bad frame: %v", p)
		}
	}
}

// appendRecord appends a hand-made record to the bus's log.
func appendRecord(t *testing.T, fs vfs.FS, encode func([]byte) []byte, count uint32) mmsb.LSN {
	t.Helper()
	l, rep, err := tlog.Open(tlog.Options{FS: fs, Dir: fs.Join(busDir, "wal")}, 1<<62, func(*tlog.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	first := rep.LastLSN + 1
	payload := encode(record.AppendHeader(nil, 1_800_000_000_000_000_000))
	if _, err := l.Append(first, count, payload); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return first
}

func TestIntegrityCatchesOrphans(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	src, derived := populate(t, e, 10, 3)
	e.Close()
	orphan := delta.Delta{Page: 9999, Runs: []delta.Run{{Offset: 0, Data: []byte("ghost")}}}
	outOfRange := delta.Delta{Page: src[0], Runs: []delta.Run{{Offset: 60, Data: []byte("too long")}}}
	stale := delta.Delta{Page: derived[0], Runs: []delta.Run{{Offset: 0, Data: []byte("x")}}}
	lsn := appendRecord(t, fs, func(b []byte) []byte {
		b = record.AppendDelta(b, &orphan)
		b = record.AppendDelta(b, &outOfRange)
		b = record.AppendDerived(b, []record.ParentRead{{Page: 8888, LSN: 1}, {Page: src[0], LSN: 1}}, &stale)
		return record.AppendEdge(b, record.OpAddEdge, src[1], 7777, 0)
	}, 4)
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireProblem(t, rep, err, "orphan delta: page 9999")
	requireProblem(t, rep, err, "does not fit page")
	requireProblem(t, rep, err, "parent 8888, which does not exist")
	requireProblem(t, rep, err, "but its last write was")
	requireProblem(t, rep, err, "names page 7777")
	if rep.Problems[0].LSN != lsn {
		t.Fatalf("first problem at LSN %d, want %d", rep.Problems[0].LSN, lsn)
	}
	// Undecodable payload: reported, the scan goes on.
	appendRecord(t, fs, func(b []byte) []byte { return append(b, 0xEE, 1, 2) }, 1)
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireProblem(t, rep, err, "does not decode")
	// Opening the bus now fails: the validator found what recovery refuses.
	if _, err := mmsb.Open(busDir, &mmsb.Options{FS: fs}); err == nil {
		t.Fatal("bus with orphan deltas opened")
	}
}

func TestIntegrityLiveEpochs(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	defer e.Close()
	populate(t, e, 10, 8) // has a checkpoint; log still starts at LSN 1
	rep, err := Integrity(ctx, Live(e), Options{})
	requireOK(t, rep, err)
	if v, _ := rep.Figure("ops"); v < 50 {
		t.Fatalf("ops scanned %v", v)
	}
}

func TestGraphNegativeControls(t *testing.T) {
	pages := map[mmsb.PageID]int{1: 8, 2: 8, 3: 8, 4: 8}
	has := func(n string) bool { return n == "passthrough" }
	tests := []struct {
		name string
		v    GraphView
		want string
	}{
		{"cycle", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 2}, {Parent: 2, Child: 3}, {Parent: 3, Child: 1}}}, "not acyclic"},
		{"dangling edge", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 9}}}, "edge child 9 does not exist"},
		{"unknown function", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 2}},
			Bindings: map[mmsb.PageID]mmsb.Binding{2: {Func: "nope", Parents: []mmsb.PageID{1}}}}, `function "nope" is not registered`},
		{"missing parent", GraphView{Pages: pages, HasFunc: has, Edges: nil,
			Bindings: map[mmsb.PageID]mmsb.Binding{2: {Func: "passthrough", Parents: []mmsb.PageID{5}}}}, "parent 5 does not exist"},
		{"edges differ from binding", GraphView{Pages: pages, HasFunc: has, Edges: []mmsb.Edge{{Parent: 1, Child: 2}, {Parent: 3, Child: 2}},
			Bindings: map[mmsb.PageID]mmsb.Binding{2: {Func: "passthrough", Parents: []mmsb.PageID{1}}}}, "data edges into page 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireProblem(t, CheckGraphView(tc.v, Options{}), nil, tc.want)
		})
	}
	// The same checks on a live, clean bus find nothing.
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	populate(t, e, 8, 2)
	rep, err := Graph(ctx, Live(e), Options{})
	requireOK(t, rep, err)
}

func TestPurityNegativeControls(t *testing.T) {
	calls := 0
	funcs := map[string]mmsb.RecomputeFunc{
		"counter": func(in [][]byte, _ []byte, out []byte) error { // impure: hidden state
			calls++
			out[0] = byte(calls)
			return nil
		},
		"mutator": func(in [][]byte, _ []byte, out []byte) error { // impure: writes its input
			in[0][1]++
			copy(out, in[0])
			return nil
		},
		"panics": func([][]byte, []byte, []byte) error { panic("boom") },
	}
	e := openBus(t, vfs.NewMem(), funcs)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	for i, fn := range []string{"counter", "mutator", "panics", "passthrough"} {
		if err := e.Bind(ctx, ids[i+1], fn, nil, []mmsb.PageID{ids[0]}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Purity(ctx, Live(e), Options{})
	requireProblem(t, rep, err, "not deterministic")
	requireProblem(t, rep, err, "modified input 0")
	requireProblem(t, rep, err, "panic: boom")
	for _, p := range rep.Problems {
		if p.Page == ids[4] {
			t.Fatalf("pure passthrough flagged: %v", p)
		}
	}
	if rep.Checked != 4 {
		t.Fatalf("checked %d bindings, want 4", rep.Checked)
	}
}

func TestPurityCatchesInconsistentDerivedPage(t *testing.T) {
	fs := vfs.NewMem()
	double := func(in [][]byte, _ []byte, out []byte) error {
		for i := range out {
			out[i] = in[0][i] * 2
		}
		return nil
	}
	e := openBus(t, fs, map[string]mmsb.RecomputeFunc{"f": double})
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 4}, {Size: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[1], "f", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Data: []byte{1, 2, 3, 4}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := Purity(ctx, Live(e), Options{})
	requireOK(t, rep, err)
	if v, _ := rep.Figure("consistency_checked"); v != 1 {
		t.Fatalf("consistency checked %v, want 1", v)
	}
	e.Close()
	// Reopen with a different function under the same name: the derived
	// page no longer equals its function of its parents.
	triple := func(in [][]byte, _ []byte, out []byte) error {
		for i := range out {
			out[i] = in[0][i] * 3
		}
		return nil
	}
	e = openBus(t, fs, map[string]mmsb.RecomputeFunc{"f": triple})
	defer e.Close()
	rep, err = Purity(ctx, Live(e), Options{})
	requireProblem(t, rep, err, "different from its function")
	iv := NewInvariants()
	rep, err = iv.Check(ctx, e, Options{})
	requireProblem(t, rep, err, "different from its function")
}

func TestInvariantsNegativeControls(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	src, _ := populate(t, e, 6, 2)
	iv := NewInvariants()
	rep, err := iv.Check(ctx, e, Options{})
	requireOK(t, rep, err)

	// NaN and Inf in a page declared f64.
	nan := semiring.AppendF64(nil, math.NaN(), math.Inf(-1))
	if _, err := e.Commit(ctx, []delta.Delta{{Page: src[1], Runs: []delta.Run{{Offset: 16, Data: nan}}}}); err != nil {
		t.Fatal(err)
	}
	rep, err = iv.Check(ctx, e, Options{})
	requireProblem(t, rep, err, "2 NaN/Inf value(s), first at element 2")

	// An epoch that went back since the previous run (simulated snapshot).
	iv.prev[src[0]] = pageSnap{epoch: 1000, last: iv.prev[src[0]].last}
	rep, err = iv.Check(ctx, e, Options{})
	requireProblem(t, rep, err, "epoch went back")

	// User invariants: an error and a panic are both violations.
	if err := iv.Register("always-fails", func(*mmsb.Bus) error { return errors.New("user says no") }); err != nil {
		t.Fatal(err)
	}
	if err := iv.Register("panics", func(*mmsb.Bus) error { panic("bad") }); err != nil {
		t.Fatal(err)
	}
	if err := iv.Register("panics", func(*mmsb.Bus) error { return nil }); !errors.Is(err, ErrInvalidInvariant) {
		t.Fatalf("duplicate register: %v", err)
	}
	// A nameless or nil invariant could never be reported or run.
	if err := iv.Register("", func(*mmsb.Bus) error { return nil }); !errors.Is(err, ErrInvalidInvariant) {
		t.Fatalf("register with no name: %v", err)
	}
	if err := iv.Register("nil", nil); !errors.Is(err, ErrInvalidInvariant) {
		t.Fatalf("register of a nil function: %v", err)
	}
	rep, err = iv.Check(ctx, e, Options{})
	requireProblem(t, rep, err, "user says no")
	requireProblem(t, rep, err, "panic: bad")
}

func TestInvariantsAttachToTicks(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	src, _ := populate(t, e, 4, 1)
	o, err := tick.New(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	iv := NewInvariants()
	var reports []Report
	if err := iv.Attach(o, 2, Options{}, func(r Report) { reports = append(reports, r) }); err != nil {
		t.Fatal(err)
	}
	if err := Strict(o, Options{}, nil, "graph", "purity"); err != nil {
		t.Fatal(err)
	}
	// Refused whole: nothing is registered (the hooks counted below
	// would be 4 with "replay" registered before "nope" was found).
	for _, names := range [][]string{{"replay", "nope"}, nil} {
		if err := Strict(o, Options{}, nil, names...); !errors.Is(err, ErrUnknownValidator) {
			t.Fatalf("Strict(%q): %v, want ErrUnknownValidator", names, err)
		}
	}
	tick := func() *tick.Result {
		t.Helper()
		r, err := o.Tick(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tick()
	if r := tick(); r.InvariantsRun != 3 || r.InvariantFailures != 0 {
		t.Fatalf("tick 2: %d run, %d failed", r.InvariantsRun, r.InvariantFailures)
	}
	bad := delta.Delta{Page: src[0], Runs: []delta.Run{{Data: semiring.AppendF64(nil, math.Inf(1))}}}
	if err := o.Submit(ctx, &bad); err != nil {
		t.Fatal(err)
	}
	tick()
	if r := tick(); r.InvariantFailures != 1 {
		t.Fatalf("tick 4 after an Inf write: %d failures, want 1", r.InvariantFailures)
	}
	if len(reports) != 2 || reports[1].OK() {
		t.Fatalf("reports: %+v", reports)
	}
}

func TestProvenanceValidator(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	defer e.Close()
	populate(t, e, 20, 6)
	rep, err := Provenance(ctx, Live(e), Options{Samples: -1, Seed: 7})
	requireOK(t, rep, err)

	// Negative controls: answers that are off by one LSN, or that drop a
	// derivation's parent, are caught.
	offByOne := func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		r, err := e.Provenance(ctx, id, off, n, 0)
		if err == nil && r.Writes[0].LSN > 1 {
			r.Writes[0].LSN--
		}
		return r, err
	}
	rep, err = checkProvenance(ctx, e, Options{Samples: -1, Seed: 7}, offByOne)
	requireProblem(t, rep, err, "the log's last writer of the range is LSN")
	dropParent := func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		r, err := e.Provenance(ctx, id, off, n, 0)
		if err == nil && len(r.Writes) > 2 {
			r.Writes = r.Writes[:len(r.Writes)-1]
		}
		return r, err
	}
	rep, err = checkProvenance(ctx, e, Options{Samples: -1, Seed: 7}, dropParent)
	requireProblem(t, rep, err, "its log record read")
}

// benchBus is a moderately sized bus: 2000 source pages, 1000 derived
// pages, 20 rounds of writes with propagation, a checkpoint midway.
func benchBus(b *testing.B) *mmsb.Bus {
	e := openBus(b, vfs.NewMem(), nil)
	populate(b, e, 2000, 20)
	return e
}

func BenchmarkValidators(b *testing.B) {
	e := benchBus(b)
	defer e.Close()
	for _, v := range All() {
		b.Run(v.Name, func(b *testing.B) {
			b.ReportAllocs()
			var checked int64
			for i := 0; i < b.N; i++ {
				rep, err := v.Fn(ctx, Live(e), Options{})
				if err != nil || !rep.OK() {
					b.Fatal(err, rep.Problems)
				}
				checked = rep.Checked
			}
			b.ReportMetric(float64(checked), "items")
		})
	}
}

// corruptCheckpoint flips a byte in the middle of checkpoint path, so that
// it fails its CRC and no replay can start from it.
func corruptCheckpoint(t *testing.T, fs vfs.FS, path string) {
	t.Helper()
	b := testutil.ReadFile(t, fs, path)
	b[len(b)/2] ^= 0x55
	writeFile(t, fs, path, b)
}

// TestReplayOfflineNotComparedWithOneStartingPoint: offline, the replay
// validator compares a replay from LSN 1 (or the oldest checkpoint) with a
// replay from the newest checkpoint. With no usable checkpoint, or with
// only the checkpoint the first replay starts from, both replays would
// start from the same state: the validator must say "not compared", a
// distinct outcome, instead of passing a replay compared with itself.
func TestReplayOfflineNotComparedWithOneStartingPoint(t *testing.T) {
	requireNotCompared := func(t *testing.T, rep Report, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total != 0 {
			t.Fatalf("problems: %v", rep.Problems)
		}
		if rep.Outcome() != OutcomeNotCompared || rep.OK() || !errors.Is(rep.Err(), ErrNotCompared) ||
			!strings.Contains(rep.NotCompared, "only one starting point") {
			t.Fatalf("outcome %q (OK %v, err %v, not compared %q): a replay compared with itself passed",
				rep.Outcome(), rep.OK(), rep.Err(), rep.NotCompared)
		}
		if v, _ := rep.Figure("comparisons"); v != 0 {
			t.Fatalf("comparisons = %v, want 0", v)
		}
	}
	writes := func(t *testing.T, e *mmsb.Bus) {
		ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 64, Meta: f64Meta()}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Offset: 8, Data: semiring.AppendF64(nil, float64(i))}}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("no checkpoint", func(t *testing.T) {
		fs := vfs.NewMem()
		e := openBus(t, fs, nil)
		writes(t, e)
		e.Close()
		rep, err := Replay(ctx, Offline(fs, busDir, nil), Options{})
		requireNotCompared(t, rep, err)
	})
	t.Run("only checkpoint corrupt", func(t *testing.T) {
		fs := vfs.NewMem()
		e := openBus(t, fs, nil)
		writes(t, e)
		ck, err := e.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
		corruptCheckpoint(t, fs, ck.Path)
		rep, err := Replay(ctx, Offline(fs, busDir, nil), Options{})
		requireNotCompared(t, rep, err)
		if len(rep.Notes) == 0 || !strings.Contains(strings.Join(rep.Notes, "\n"), "not usable") {
			t.Fatalf("the unusable checkpoint is not named: %v", rep.Notes)
		}
	})
	t.Run("one checkpoint and the log from LSN 1", func(t *testing.T) {
		// Two different starting points: a real comparison, and a pass.
		fs := vfs.NewMem()
		e := openBus(t, fs, nil)
		writes(t, e)
		if _, err := e.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		writes(t, e)
		e.Close()
		rep, err := Replay(ctx, Offline(fs, busDir, nil), Options{})
		requireOK(t, rep, err)
		if v, _ := rep.Figure("comparisons"); v != 1 || rep.Outcome() != OutcomePass {
			t.Fatalf("comparisons = %v, outcome %q", v, rep.Outcome())
		}
	})
}

// TestReplayLiveCorruptNewestCheckpoint: online, the replay from the
// newest checkpoint must start from it; when it does not load, that is a
// problem naming the checkpoint, not a clean replay from elsewhere.
func TestReplayLiveCorruptNewestCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	defer e.Close()
	populate(t, e, 10, 4)
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	corruptCheckpoint(t, fs, ck.Path)
	rep, err := Replay(ctx, Live(e), Options{})
	requireProblem(t, rep, err, ck.Path)
	if rep.Problems[0].Kind != KindFailed {
		t.Fatalf("problem kind %q, want %q", rep.Problems[0].Kind, KindFailed)
	}
}

// TestPurityOneRunStillComparesRuns: Options.Runs 1 used to call each
// function once, so a function with hidden state passed: the
// non-determinism check had nothing to compare.
func TestPurityOneRunStillComparesRuns(t *testing.T) {
	calls := 0
	funcs := map[string]mmsb.RecomputeFunc{
		"counter": func(in [][]byte, _ []byte, out []byte) error { // impure: hidden state
			calls++
			out[0] = byte(calls)
			return nil
		},
	}
	e := openBus(t, vfs.NewMem(), funcs)
	defer e.Close()
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[1], "counter", nil, []mmsb.PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	rep, err := Purity(ctx, Live(e), Options{Runs: 1})
	requireProblem(t, rep, err, "not deterministic")
}
