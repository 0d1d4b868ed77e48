package mmsb

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// Tests of claims the root package's documentation makes (go doc -all)
// that no other test pinned down. Each names the doc comment it holds to.

// TestDocQueryLogWithoutLogRefused: "A q.FromLSN the log no longer holds,
// or a bus without a log, is ErrLogTruncated" (Bus.QueryLog). A bus opened
// with Options.DisableLog (and every bus Replay returns) answered a query
// without FromLSN with no operation and nil, as if nothing had been
// committed, though it holds pages created at LSNs 1 and 2.
func TestDocQueryLogWithoutLogRefused(t *testing.T) {
	e := openT(t, "", &Options{DisableLog: true})
	mustCreate(t, e, 2, 8)
	for _, q := range []LogQuery{{}, {ToLSN: 2}, {FromLSN: 1}, {FromLSN: 3}, {Kinds: []OpKind{OpCreatePage}}} {
		n := 0
		err := e.QueryLog(ctx, q, func(*LoggedOp) bool { n++; return true })
		if !errors.Is(err, ErrLogTruncated) || !strings.Contains(err.Error(), "DisableLog") {
			t.Errorf("QueryLog(%+v) of a bus without a log = %d operation(s), %v; want ErrLogTruncated", q, n, err)
		}
	}
	// Stats says so: NoLog, and a zero LogStats ("zero without a log").
	if st := e.Stats(); !st.NoLog || st.Log != (LogStats{}) {
		t.Errorf("Stats of a bus without a log: NoLog %v, Log %+v", st.NoLog, st.Log)
	}
	// The checks of the query and the callback come first, as on any bus.
	if err := e.QueryLog(ctx, LogQuery{}, nil); !errors.Is(err, ErrInvalidOption) {
		t.Errorf("QueryLog with a nil callback = %v, want ErrInvalidOption", err)
	}
	// A detached replay has no log either.
	src := openT(t, "", nil)
	mustCreate(t, src, 1, 8)
	r, err := src.Replay(ctx, ReplayTarget{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.QueryLog(ctx, LogQuery{}, func(*LoggedOp) bool { return true }); !errors.Is(err, ErrLogTruncated) {
		t.Errorf("QueryLog of a replayed bus = %v, want ErrLogTruncated", err)
	}
	// A bus with a log answers the same query.
	n := 0
	if err := src.QueryLog(ctx, LogQuery{}, func(*LoggedOp) bool { n++; return true }); err != nil || n != 1 {
		t.Errorf("QueryLog of a bus with a log = %d operation(s), %v; want 1, nil", n, err)
	}
}

// TestDocMetricsSyncModeNamesReplicated: Metrics.SyncMode is the bus's sync
// mode, "replicated" included (the doc listed only group, always, none).
func TestDocMetricsSyncModeNamesReplicated(t *testing.T) {
	for _, m := range []SyncMode{SyncGroup, SyncAlways, SyncNone, SyncReplicated} {
		o := &Options{Sync: m}
		dir := ""
		if m == SyncReplicated {
			o.Replicator = &fakeReplicator{}
			dir = t.TempDir()
		}
		e := openT(t, dir, o)
		if got := e.Metrics().SyncMode; got != m.String() {
			t.Errorf("Metrics().SyncMode of a %v bus = %q", m, got)
		}
		if got := e.Stats().SyncMode; got != m.String() {
			t.Errorf("Stats().SyncMode of a %v bus = %q", m, got)
		}
		e.Close()
	}
}

// TestDocEdgeCallsRefused: the errors AddEdge and RemoveEdge document.
// RemoveEdge of an absent edge is no error; the Data edge of a binding
// is ErrPageInUse (Unbind instead), as for RemoveEdges; an edge type that
// is not one is ErrInvalidOption. Nothing refused is logged.
func TestDocEdgeCallsRefused(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 4, 8)
	if err := e.Bind(ctx, ids[3], "passthrough", nil, []PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	checkRefused(t, e, []refusedCase{
		{"AddEdge missing parent", func(e *Bus) error { return e.AddEdge(ctx, 99, ids[1], EdgeControl) }, ErrPageNotFound, []string{"99"}},
		{"AddEdge missing child", func(e *Bus) error { return e.AddEdge(ctx, ids[1], 99, EdgeControl) }, ErrPageNotFound, []string{"99"}},
		{"AddEdge unknown type", func(e *Bus) error { return e.AddEdge(ctx, ids[1], ids[2], EdgeType(9)) }, ErrInvalidOption, []string{"9"}},
		{"AddEdge self", func(e *Bus) error { return e.AddEdge(ctx, ids[1], ids[1], EdgeControl) }, ErrCycle, nil},
		{"AddEdge data into derived page", func(e *Bus) error { return e.AddEdge(ctx, ids[1], ids[3], EdgeData) }, ErrPageInUse, []string{"binding"}},
		{"RemoveEdge unknown type", func(e *Bus) error { return e.RemoveEdge(ctx, ids[1], ids[2], EdgeType(9)) }, ErrInvalidOption, []string{"9"}},
		{"RemoveEdge binding's data edge", func(e *Bus) error { return e.RemoveEdge(ctx, ids[0], ids[3], EdgeData) }, ErrPageInUse, []string{"unbind"}},
		{"RemoveEdges binding's data edge", func(e *Bus) error { return e.RemoveEdges(ctx, ids[0], ids[3]) }, ErrPageInUse, []string{"unbind"}},
	})
	// Absent edges, even between pages that do not exist: no error.
	for _, pc := range [][2]PageID{{ids[1], ids[2]}, {98, 99}} {
		if err := e.RemoveEdge(ctx, pc[0], pc[1], EdgeGPUSync); err != nil {
			t.Errorf("RemoveEdge(%d -> %d) absent = %v, want nil", pc[0], pc[1], err)
		}
		if err := e.RemoveEdges(ctx, pc[0], pc[1]); err != nil {
			t.Errorf("RemoveEdges(%d -> %d) absent = %v, want nil", pc[0], pc[1], err)
		}
	}
	if b, ok := e.Binding(ids[3]); !ok || len(b.Parents) != 1 || len(e.Parents(ids[3])) != 1 {
		t.Errorf("the binding lost its edge: %+v %v", b, e.Parents(ids[3]))
	}
}

// TestDocHistoryEntriesSizing: Options.HistoryEntries is rounded up to a
// power of two, 0 is the default 4096 and a negative count disables the
// ring (Stats.HistoryCapacity reports it).
func TestDocHistoryEntriesSizing(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 4096}, {-1, 0}, {1, 1}, {3, 4}, {4096, 4096}, {5000, 8192}} {
		e := openT(t, "", &Options{HistoryEntries: c.in})
		if got := e.Stats().HistoryCapacity; got != c.want {
			t.Errorf("HistoryEntries %d: Stats.HistoryCapacity %d, want %d", c.in, got, c.want)
		}
		e.Close()
	}
}

// TestDocBindingIsCopy: BindingFunc's doc says Binding returns copies of
// the parameters and parents; a caller changing them changes no binding.
func TestDocBindingIsCopy(t *testing.T) {
	e := openT(t, "", &Options{Functions: map[string]RecomputeFunc{
		"doc.first": func(in [][]byte, _ []byte, out []byte) error { copy(out, in[0]); return nil },
	}})
	ids := mustCreate(t, e, 2, 8)
	if err := e.Bind(ctx, ids[1], "doc.first", []byte("params"), []PageID{ids[0]}); err != nil {
		t.Fatal(err)
	}
	b, _ := e.Binding(ids[1])
	b.Parents[0], b.Params[0], b.Func = 99, 'X', "other"
	got, ok := e.Binding(ids[1])
	if !ok || got.Func != "doc.first" || string(got.Params) != "params" || len(got.Parents) != 1 || got.Parents[0] != ids[0] {
		t.Errorf("Binding after the caller changed its copy = %+v, %v", got, ok)
	}
}

// TestDocReplayIgnoresWriterOptions: the package-level Replay uses only FS,
// Functions, LazyPageMemory, Repair and DisableLog of opts: options that
// Open refuses are not looked at.
func TestDocReplayIgnoresWriterOptions(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, nil)
	mustCreate(t, e, 1, 8)
	bad := Options{Sync: 77, Workers: MaxWorkers + 1, SegmentBytes: 3, CheckpointWriteRate: 5, HistoryEntries: MaxHistoryEntries + 1, Follower: true, Shared: true}
	if _, err := Open("", &bad); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("Open with the options = %v, want ErrInvalidOption (the test's options must be ones Open refuses)", err)
	}
	r, err := Replay(ctx, dir, ReplayTarget{}, &bad)
	if err != nil {
		t.Fatalf("Replay with options it does not use = %v", err)
	}
	defer r.Close()
	if ids, err := r.PageIDs(); err != nil || len(ids) != 1 {
		t.Errorf("replayed pages %v, %v; want one", ids, err)
	}
}

// TestDocErrNilForPassingRefusals: Err reports only refusals for good
// (ErrFailed, ErrClosed). A follower refuses every write with ErrFollower
// and stays usable: Err is nil, as it is while ErrCheckpointFailing holds
// (TestCheckpointFailuresCountedAndBounded).
func TestDocErrNilForPassingRefusals(t *testing.T) {
	f := openT(t, "", &Options{Follower: true})
	if _, err := f.CreatePage(ctx, PageSpec{Size: 8}); !errors.Is(err, ErrFollower) {
		t.Fatalf("a follower's CreatePage = %v, want ErrFollower", err)
	}
	if err := f.Err(); err != nil {
		t.Errorf("a follower's Err after a refused write = %v, want nil", err)
	}
	f.Close()
	if err := f.Err(); !errors.Is(err, ErrClosed) {
		t.Errorf("Err after Close = %v, want ErrClosed", err)
	}
}

// TestDocDiffExactRuns: Diff gives exactly the differing bytes, as runs in
// ascending order, which Commit turns old into cur with; equal images give
// an empty delta, which Commit refuses with ErrInvalidDelta.
func TestDocDiffExactRuns(t *testing.T) {
	e := openT(t, "", nil)
	id := mustCreate(t, e, 1, 8)[0]
	old := make([]byte, 8)
	cur := []byte{0, 1, 1, 0, 0, 0, 0, 2}
	d, err := Diff(id, old, cur)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Runs) != 2 || d.Runs[0].Offset != 1 || string(d.Runs[0].Data) != "\x01\x01" || d.Runs[1].Offset != 7 || string(d.Runs[1].Data) != "\x02" {
		t.Fatalf("Diff(%v, %v) = %+v, want runs {1 [1 1]} {7 [2]}", old, cur, d.Runs)
	}
	if _, err := e.Commit(ctx, []Delta{d}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := e.ReadPage(id, nil); string(got) != string(cur) {
		t.Fatalf("page after the Diff's commit = %v, want %v", got, cur)
	}
	same, err := Diff(id, cur, cur)
	if err != nil || len(same.Runs) != 0 {
		t.Fatalf("Diff of equal images = %+v, %v; want no runs", same, err)
	}
	lsn := e.LastLSN()
	if _, err := e.Commit(ctx, []Delta{same}); !errors.Is(err, ErrInvalidDelta) || e.LastLSN() != lsn {
		t.Fatalf("Commit of the empty Diff = %v (last LSN %d, was %d); want ErrInvalidDelta, nothing logged", err, e.LastLSN(), lsn)
	}
}

// TestDocDescendantsTopological: Descendants follows every edge type and
// lists each page after every page with an edge into it (ties by the
// smaller ID), the start excluded; a page with no edges has none.
func TestDocDescendantsTopological(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 5, 8)
	for _, ed := range []Edge{{ids[0], ids[2], EdgeControl}, {ids[2], ids[1], EdgeGPUSync}, {ids[0], ids[3], EdgeCompiler}, {ids[3], ids[1], EdgeControl}} {
		if err := e.AddEdge(ctx, ed.Parent, ed.Child, ed.Type); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Bind(ctx, ids[4], "passthrough", nil, []PageID{ids[1]}); err != nil {
		t.Fatal(err)
	}
	want := []PageID{ids[2], ids[3], ids[1], ids[4]}
	if got := e.Descendants(ids[0]); !slices.Equal(got, want) {
		t.Errorf("Descendants(%d) = %v, want %v", ids[0], got, want)
	}
	if got := e.Descendants(ids[4]); len(got) != 0 {
		t.Errorf("Descendants of a page with no children = %v", got)
	}
	if got := e.Descendants(999); len(got) != 0 {
		t.Errorf("Descendants of a missing page = %v", got)
	}
}

// TestDocReservedMetaKeysAccepted: keys under "mmsb." are reserved, not
// refused (MetaEntry); metadata reads back as written, in order, and the
// PageInfo's Meta is the caller's copy.
func TestDocReservedMetaKeysAccepted(t *testing.T) {
	e := openT(t, "", nil)
	meta := []MetaEntry{{Key: TypeMetaKey, Value: []byte("f64")}, {Key: "mmsb.other", Value: []byte("x")}, {Key: "app", Value: nil}}
	id, err := e.CreatePage(ctx, PageSpec{Size: 8, Meta: meta})
	if err != nil {
		t.Fatalf("CreatePage with %q keys: %v", "mmsb.", err)
	}
	if err := e.SetMetadata(ctx, id, append(meta, MetaEntry{Key: "mmsb.third", Value: []byte("y")})); err != nil {
		t.Fatalf("SetMetadata with %q keys: %v", "mmsb.", err)
	}
	pi, err := e.Page(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(pi.Meta) != 4 || pi.Meta[0].Key != TypeMetaKey || string(pi.Meta[0].Value) != "f64" || pi.Meta[3].Key != "mmsb.third" {
		t.Fatalf("Page(%d).Meta = %+v", id, pi.Meta)
	}
	pi.Meta[0].Value[0] = 'X'
	if again, _ := e.Page(id); string(again.Meta[0].Value) != "f64" {
		t.Fatalf("changing a PageInfo's Meta changed the page's: %q", again.Meta[0].Value)
	}
}

// TestDocSyncNoneDurableMovesWithFlush: under SyncNone a commit is
// acknowledged once written (LogStats.WrittenLSN reaches it) and
// DurableLSN moves with Flush (LogStats.WrittenLSN's doc); WaitDurable
// waits for "written to the OS" in that mode, so it returns at once.
func TestDocSyncNoneDurableMovesWithFlush(t *testing.T) {
	e := openT(t, t.TempDir(), &Options{Sync: SyncNone})
	id := mustCreate(t, e, 1, 8)[0]
	info, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	st := e.Stats().Log
	if st.WrittenLSN != info.LastLSN || st.DurableLSN >= info.LastLSN {
		t.Fatalf("after a SyncNone commit to LSN %d: WrittenLSN %d, DurableLSN %d; want written, not yet synced", info.LastLSN, st.WrittenLSN, st.DurableLSN)
	}
	if err := e.WaitDurable(ctx, info.LastLSN); err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats().Log; st.DurableLSN != info.LastLSN {
		t.Fatalf("after Flush: DurableLSN %d, want %d", st.DurableLSN, info.LastLSN)
	}
	if m := e.Metrics(); m.DurableLSN != info.LastLSN || m.CommittedLSN != info.LastLSN {
		t.Fatalf("Metrics after Flush: DurableLSN %d, CommittedLSN %d; want %d", m.DurableLSN, m.CommittedLSN, info.LastLSN)
	}
}

// TestDocLogQueryByPage: LogQuery.Page selects the operations on a page,
// a binding's bind and unbind by the derived page only, edges by either
// end, and never a wave op.
func TestDocLogQueryByPage(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 2, 8)
	a, d := ids[0], ids[1]
	if err := e.Bind(ctx, d, "passthrough", nil, []PageID{a}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(a, 0, []byte{7})}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.Propagate(ctx); err != nil || len(r.Writes) != 1 {
		t.Fatalf("wave: %+v, %v; want one derived write", r, err)
	}
	if err := e.Unbind(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, a, d, EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := e.ClearFlags(ctx, a, FlagStale); err != nil {
		t.Fatal(err)
	}
	kinds := func(p PageID) []string {
		var ks []string
		if err := e.QueryLog(ctx, LogQuery{Page: p}, func(lo *LoggedOp) bool { ks = append(ks, lo.Op.Kind.String()); return true }); err != nil {
			t.Fatal(err)
		}
		return ks
	}
	all := 0
	waves := 0
	if err := e.QueryLog(ctx, LogQuery{}, func(lo *LoggedOp) bool {
		all++
		if lo.Op.Kind == OpWave {
			waves++
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if waves == 0 {
		t.Fatalf("the log holds no wave op (%d ops): the test needs one", all)
	}
	if got, want := kinds(a), []string{"create", "delta", "add-edge", "flags"}; !slices.Equal(got, want) {
		t.Errorf("LogQuery{Page: parent %d} kinds = %v, want %v", a, got, want)
	}
	if got, want := kinds(d), []string{"create", "bind", "derived", "unbind", "add-edge"}; !slices.Equal(got, want) {
		t.Errorf("LogQuery{Page: derived %d} kinds = %v, want %v", d, got, want)
	}
}

// TestDocInMemoryBusIgnoresFS: an in-memory bus (dir "") uses a private
// filesystem (Options.FS, Bus.FS): a given FS is left untouched.
func TestDocInMemoryBusIgnoresFS(t *testing.T) {
	given := vfs.NewMem()
	e := openT(t, "", &Options{FS: given})
	id := mustCreate(t, e, 1, 8)[0]
	if _, err := e.Commit(ctx, []Delta{Write(id, 0, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if e.FS() == vfs.FS(given) {
		t.Errorf("an in-memory bus's FS() is the Options.FS it was given")
	}
	if names, _ := given.List("/"); len(names) != 0 || given.Usage() != 0 {
		t.Errorf("an in-memory bus wrote to the Options.FS it was given: %v, %d bytes", names, given.Usage())
	}
}

// TestDocPageInfoLastLSN: PageInfo.LastLSN is the page's last byte write
// (its creation or a delta): metadata, flags and bindings do not move it.
func TestDocPageInfoLastLSN(t *testing.T) {
	e := openT(t, "", nil)
	ids := mustCreate(t, e, 2, 8)
	p, d := ids[0], ids[1]
	last := func(id PageID) LSN {
		t.Helper()
		pi, err := e.Page(id)
		if err != nil {
			t.Fatal(err)
		}
		return pi.LastLSN
	}
	created := last(p)
	if err := e.SetMetadata(ctx, p, []MetaEntry{{Key: "k"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, d, p, EdgeControl); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []Delta{Write(d, 0, []byte{1})}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Propagate(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := e.Flags(p); f&FlagStale == 0 {
		t.Fatalf("the wave raised no flag on page %d", p)
	}
	if got := last(p); got != created {
		t.Fatalf("LastLSN after metadata and flags = %d, want its creation's %d", got, created)
	}
	info, err := e.Commit(ctx, []Delta{Write(p, 0, []byte{1})})
	if err != nil {
		t.Fatal(err)
	}
	if got := last(p); got != info.LastLSN {
		t.Fatalf("LastLSN after a delta = %d, want %d", got, info.LastLSN)
	}
}

// TestDocMetadataDuplicateKeys: SetMetadata and PageSpec.Meta keep the
// entries' order, and a key given twice keeps its first place and its
// last value, on the live bus and in a replay of its log alike.
func TestDocMetadataDuplicateKeys(t *testing.T) {
	e := openT(t, "", nil)
	dup := []MetaEntry{{Key: "k", Value: []byte("1")}, {Key: "a", Value: []byte("x")}, {Key: "k", Value: []byte("2")}}
	want := "k=2 a=x"
	id, err := e.CreatePage(ctx, PageSpec{Size: 8, Meta: dup})
	if err != nil {
		t.Fatal(err)
	}
	id2 := mustCreate(t, e, 1, 8)[0]
	if err := e.SetMetadata(ctx, id2, dup); err != nil {
		t.Fatal(err)
	}
	r, err := e.Replay(ctx, ReplayTarget{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, b := range []*Bus{e, r} {
		for _, p := range []PageID{id, id2} {
			pi, err := b.Page(p)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range pi.Meta {
				got = append(got, m.Key+"="+string(m.Value))
			}
			if strings.Join(got, " ") != want {
				t.Errorf("page %d's metadata (replay %v) = %v, want %s", p, b == r, got, want)
			}
		}
	}
}

// TestDocParseSyncMode: ParseSyncMode takes the four names String gives
// and "" (group); any other string is ErrInvalidOption, naming it.
func TestDocParseSyncMode(t *testing.T) {
	for _, m := range []SyncMode{SyncGroup, SyncAlways, SyncNone, SyncReplicated} {
		if got, err := ParseSyncMode(m.String()); err != nil || got != m {
			t.Errorf("ParseSyncMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	if got, err := ParseSyncMode(""); err != nil || got != SyncGroup {
		t.Errorf(`ParseSyncMode("") = %v, %v; want group`, got, err)
	}
	for _, s := range []string{"Group", "sync", "unknown", " none"} {
		if _, err := ParseSyncMode(s); !errors.Is(err, ErrInvalidOption) || !strings.Contains(err.Error(), s) {
			t.Errorf("ParseSyncMode(%q) = %v, want ErrInvalidOption naming it", s, err)
		}
	}
}

// TestDocFlagNames: FlagNames names the three flags in bit order, "none"
// for 0, and bits without a name in hex.
func TestDocFlagNames(t *testing.T) {
	for f, want := range map[uint8]string{
		0: "none", FlagStale: "stale", FlagSyncPending | FlagIRInvalid: "sync-pending|ir-invalid",
		FlagStale | FlagSyncPending | FlagIRInvalid: "stale|sync-pending|ir-invalid", FlagStale | 0x80: "stale|0x80", 0x18: "0x18",
	} {
		if got := FlagNames(f); got != want {
			t.Errorf("FlagNames(%#x) = %q, want %q", f, got, want)
		}
	}
}

// TestDocCheckpointInfo: CheckpointInfo names the file (under
// CheckpointDir), its size, its pages and the LSN it covers, and Stats
// and Metrics report the same checkpoint.
func TestDocCheckpointInfo(t *testing.T) {
	e := openT(t, t.TempDir(), &Options{CheckpointBytes: -1})
	ids := mustCreate(t, e, 3, 64)
	if _, err := e.Commit(ctx, []Delta{Write(ids[1], 3, []byte("abc"))}); err != nil {
		t.Fatal(err)
	}
	ci, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ci.LSN != e.LastLSN() || ci.Pages != 3 {
		t.Errorf("CheckpointInfo LSN %d, %d pages; want %d, 3", ci.LSN, ci.Pages, e.LastLSN())
	}
	if !strings.HasPrefix(ci.Path, e.CheckpointDir()+"/") {
		t.Errorf("CheckpointInfo.Path %q is not under CheckpointDir %q", ci.Path, e.CheckpointDir())
	}
	f, err := e.FS().Open(ci.Path)
	if err != nil {
		t.Fatal(err)
	}
	size, err := f.Size()
	f.Close()
	if err != nil || size != ci.Bytes {
		t.Errorf("CheckpointInfo.Bytes %d, the file holds %d (%v)", ci.Bytes, size, err)
	}
	st, m := e.Stats(), e.Metrics()
	if st.LastCheckpoint != ci.LSN || st.Checkpoints != 1 || m.CheckpointLastLSN != ci.LSN || m.CheckpointBytes != ci.Bytes || m.Checkpoints != 1 {
		t.Errorf("Stats LastCheckpoint %d (%d taken), Metrics CheckpointLastLSN %d, CheckpointBytes %d (%d taken); want LSN %d, %d bytes, 1",
			st.LastCheckpoint, st.Checkpoints, m.CheckpointLastLSN, m.CheckpointBytes, m.Checkpoints, ci.LSN, ci.Bytes)
	}
}
