package validate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// This file holds the integrity validator's negative controls for the
// problems its doc comment and docs/validators.md list that the older
// tests did not reach: LSN gaps, segment headers, checkpoints and live
// pages that disagree with the log, and one hand-written operation per
// state rule. Each feeds one bad case and requires that exact problem, of
// that kind, at that LSN where there is one; each first shows the same log
// without the damage passing.

// requireKind is requireProblem that also requires the problem's kind (and,
// when page is not 0, its page); it returns the problem.
func requireKind(t *testing.T, rep Report, err error, substr string, kind ProblemKind, page mmsb.PageID) Problem {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", rep.Name, err)
	}
	for _, p := range rep.Problems {
		if strings.Contains(p.What, substr) && (page == 0 || p.Page == page) {
			if p.Kind != kind {
				t.Fatalf("%q reported as kind %q, want %q: %v", substr, p.Kind, kind, p)
			}
			return p
		}
	}
	t.Fatalf("%s: no problem containing %q (page %d) among %d: %v", rep.Name, substr, page, rep.Total, problemTexts(rep))
	return Problem{}
}

// scratchSegment writes, with tlog in a scratch directory, a segment whose
// only record holds payload (count operations) from LSN first, and returns
// the segment file's bytes and name. tlog itself refuses to append out of
// order, so a gap is made by starting a fresh log where the gap ends.
func scratchSegment(t *testing.T, fs vfs.FS, first mmsb.LSN, count uint32, payload []byte) ([]byte, string) {
	t.Helper()
	dir := "/scratch-" + fmt.Sprint(first)
	l, _, err := tlog.Open(tlog.Options{FS: fs, Dir: dir}, 1<<62, func(*tlog.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(first, count, payload); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	name := tlog.SegmentName(first)
	return testutil.ReadFile(t, fs, fs.Join(dir, name)), name
}

// TestIntegrityCatchesLSNGap: the log ends at LSN k and what follows
// starts at k+2, either as a second segment file (its header and name
// agreeing, so only the gap is wrong) or as a record appended to the last
// segment. Both are framing problems naming both LSNs.
func TestIntegrityCatchesLSNGap(t *testing.T) {
	setup := func(t *testing.T) (vfs.FS, mmsb.LSN, []byte) {
		fs := vfs.NewMem()
		e := openBus(t, fs, nil)
		src, _ := populate(t, e, 10, 3)
		k := e.LastLSN()
		e.Close()
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		requireOK(t, rep, err)
		// A delta that fits: only the LSN is wrong.
		d := delta.Delta{Page: src[0], Runs: []delta.Run{{Offset: 0, Data: []byte("after the gap")}}}
		return fs, k, record.AppendDelta(record.AppendHeader(nil, 1_800_000_000_000_000_000), &d)
	}
	t.Run("between segments", func(t *testing.T) {
		fs, k, payload := setup(t)
		seg, name := scratchSegment(t, fs, k+2, 1, payload)
		writeFile(t, fs, fs.Join(busDir, "wal", name), seg)
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		requireKind(t, rep, err, fmt.Sprintf("LSN gap: segment starts at LSN %d, previous record ended at %d", k+2, k), KindFraming, 0)
	})
	t.Run("within a segment", func(t *testing.T) {
		fs, k, payload := setup(t)
		seg, _ := scratchSegment(t, fs, k+2, 1, payload)
		last := segmentPath(t, fs) // the bus's only segment
		b := testutil.ReadFile(t, fs, last)
		writeFile(t, fs, last, append(b, seg[tlog.SegmentHeaderSize:]...))
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		requireKind(t, rep, err, fmt.Sprintf("LSN gap: record starts at LSN %d, want %d", k+2, k+1), KindFraming, 0)
	})
}

// TestIntegrityCatchesSegmentNameMismatch: a segment whose header's first
// LSN is not the one its file name says (a file renamed or copied over).
func TestIntegrityCatchesSegmentNameMismatch(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	src, _ := populate(t, e, 6, 2)
	k := e.LastLSN()
	e.Close()
	d := delta.Delta{Page: src[0], Runs: []delta.Run{{Offset: 0, Data: []byte("x")}}}
	seg, _ := scratchSegment(t, fs, k+1, 1, record.AppendDelta(record.AppendHeader(nil, 1), &d))
	writeFile(t, fs, fs.Join(busDir, "wal", tlog.SegmentName(k+5)), seg)
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireKind(t, rep, err, fmt.Sprintf("segment header first LSN %d does not match file name (LSN %d)", k+1, k+5), KindFraming, 0)
}

// TestIntegrityCatchesCheckpointEpochs: a checkpoint whose image of one
// page carries an epoch 5 ahead of what the log's deltas give at the
// checkpoint's LSN. Offline the checkpoint is compared with the log as the
// scan passes it; online, the bus opened from that checkpoint has the page
// at the wrong epoch as well. Both are epoch problems on that page (the
// checkpoint's was reported as a "state" problem, which the harness does
// not count as an epoch problem).
func TestIntegrityCatchesCheckpointEpochs(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	src, _ := populate(t, e, 10, 4)
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.Page(src[3])
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)

	rewriteCheckpointWith(t, fs, src[3], func(img *record.PageImage) { img.Epoch += 5 })
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	want := fmt.Sprintf("page %d: log gives epoch %d at LSN %d, checkpoint has epoch %d", src[3], info.Epoch, ck.LSN, info.Epoch+5)
	p := requireKind(t, rep, err, want, KindEpoch, src[3])
	if p.LSN != ck.LSN || p.Where != ck.Path {
		t.Fatalf("problem at LSN %d in %q, want LSN %d in %q", p.LSN, p.Where, ck.LSN, ck.Path)
	}
	if rep.Total != 1 {
		t.Fatalf("%d problems, want only the epoch: %v", rep.Total, problemTexts(rep))
	}

	e = openBus(t, fs, nil) // its state comes from the doctored checkpoint
	defer e.Close()
	rep, err = Integrity(ctx, Live(e), Options{})
	requireKind(t, rep, err, fmt.Sprintf("giving epoch %d, live epoch is %d", info.Epoch, info.Epoch+5), KindEpoch, src[3])
	requireKind(t, rep, err, want, KindEpoch, src[3])
}

// TestIntegrityCatchesCheckpointPages: a checkpoint that lacks a page the
// log has at its LSN, or holds one the log never created in its place. The
// page-by-page comparison used to look only at the checkpoint's pages,
// leaving a missing page to a count that a renamed page keeps equal.
func TestIntegrityCatchesCheckpointPages(t *testing.T) {
	build := func(t *testing.T) (vfs.FS, []mmsb.PageID, mmsb.CheckpointInfo) {
		fs := vfs.NewMem()
		e := openBus(t, fs, nil)
		src, _ := populate(t, e, 10, 4)
		ck, err := e.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
		return fs, src, ck
	}
	t.Run("page missing", func(t *testing.T) {
		fs, src, ck := build(t)
		editCheckpoint(t, fs, func(img *record.PageImage) bool { return img.ID != src[3] })
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		requireKind(t, rep, err, fmt.Sprintf("log has page %d at LSN %d, the checkpoint does not", src[3], ck.LSN), KindState, src[3])
	})
	t.Run("page renamed", func(t *testing.T) {
		// The page counts agree: only a per-page comparison in both
		// directions sees both sides.
		fs, src, ck := build(t)
		const ghost = mmsb.PageID(7777)
		rewriteCheckpointWith(t, fs, src[3], func(img *record.PageImage) { img.ID = ghost })
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		requireKind(t, rep, err, fmt.Sprintf("checkpoint holds page %d, which the log does not have at LSN %d", ghost, ck.LSN), KindState, ghost)
		requireKind(t, rep, err, fmt.Sprintf("log has page %d at LSN %d, the checkpoint does not", src[3], ck.LSN), KindState, src[3])
	})
}

// TestIntegrityCatchesUncoveredLogStart: the log no longer holds LSN 1
// (a checkpoint let it drop its first segments) and no checkpoint covers
// the LSN before its first: the operations cannot be judged, which is an
// LSN problem, not a pass.
func TestIntegrityCatchesUncoveredLogStart(t *testing.T) {
	fs := vfs.NewMem()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), SegmentBytes: 4 << 10, CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 1024}})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		for i := range 12 {
			data := make([]byte, 512)
			data[0] = byte(round*12 + i)
			if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Offset: 0, Data: data}}}}); err != nil {
				t.Fatal(err)
			}
		}
		if round < 2 {
			if _, err := e.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	oldest := e.Stats().Log.OldestLSN
	if oldest <= 1 {
		t.Fatalf("log starts at LSN %d, want it trimmed past LSN 1", oldest)
	}
	e.Close()
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)
	ckDir := fs.Join(busDir, "checkpoints")
	names, err := fs.List(ckDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := fs.Remove(fs.Join(ckDir, n)); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	p := requireKind(t, rep, err, fmt.Sprintf("log starts at LSN %d but no checkpoint covers LSN %d", oldest, oldest-1), KindLSN, 0)
	if p.LSN != oldest {
		t.Fatalf("problem at LSN %d, want %d", p.LSN, oldest)
	}
}

// TestIntegrityCatchesBadOperations appends, to a clean log, one
// hand-written record per rule the validator enforces on the state at an
// operation's LSN (and on a record's operation count), each of which the
// bus itself would refuse to log; every one must be reported, with its
// kind, at its LSN.
func TestIntegrityCatchesBadOperations(t *testing.T) {
	const missing, missingParent = mmsb.PageID(9999), mmsb.PageID(8888)
	type ids struct{ src, derived []mmsb.PageID }
	oneDelta := func(b []byte) []byte {
		return record.AppendDelta(b, &delta.Delta{Page: 1, Runs: []delta.Run{{Data: []byte("y")}}})
	}
	tests := []struct {
		name    string
		encode  func(b []byte, p ids) []byte
		count   uint32
		want    func(p ids) string
		kind    ProblemKind
		lsnPlus mmsb.LSN // the problem's LSN minus the record's first
	}{
		{"derived delta to an unbound page", func(b []byte, p ids) []byte {
			return record.AppendDerived(b, nil, &delta.Delta{Page: p.src[0], Runs: []delta.Run{{Data: []byte("d")}}})
		}, 1, func(p ids) string {
			return fmt.Sprintf("derived delta to page %d, which is not bound to a function", p.src[0])
		}, KindState, 0},
		{"delta expecting another epoch", func(b []byte, p ids) []byte {
			return record.AppendDelta(b, &delta.Delta{Page: p.src[0], Runs: []delta.Run{{Data: []byte("e")}}, CheckEpoch: true, ExpectEpoch: 9999})
		}, 1, func(p ids) string { return fmt.Sprintf("delta expects page %d at epoch 9999", p.src[0]) }, KindEpoch, 0},
		{"create of an existing page", func(b []byte, p ids) []byte {
			return record.AppendCreate(b, p.src[0], 64, 0, nil)
		}, 1, func(p ids) string { return fmt.Sprintf("create of page %d, which already exists", p.src[0]) }, KindState, 0},
		{"create with size 0", func(b []byte, _ ids) []byte {
			return record.AppendCreate(b, missing, 0, 0, nil)
		}, 1, func(ids) string { return fmt.Sprintf("create of page %d with size 0", missing) }, KindSchema, 0},
		{"free of a missing page", func(b []byte, _ ids) []byte {
			return record.AppendFree(b, missing)
		}, 1, func(ids) string { return fmt.Sprintf("free of page %d, which does not exist", missing) }, KindOrphan, 0},
		{"free of a bound page", func(b []byte, p ids) []byte {
			return record.AppendFree(b, p.derived[0])
		}, 1, func(p ids) string { return fmt.Sprintf("free of page %d, which is still bound", p.derived[0]) }, KindState, 0},
		{"metadata of a missing page", func(b []byte, _ ids) []byte {
			return record.AppendSetMeta(b, missing, nil)
		}, 1, func(ids) string {
			return fmt.Sprintf("%v for page %d, which does not exist", record.OpSetMeta, missing)
		}, KindOrphan, 0},
		{"flags of a missing page", func(b []byte, _ ids) []byte {
			return record.AppendFlags(b, missing, 0)
		}, 1, func(ids) string {
			return fmt.Sprintf("%v for page %d, which does not exist", record.OpSetFlags, missing)
		}, KindOrphan, 0},
		{"edge of unknown type", func(b []byte, p ids) []byte {
			return record.AppendEdge(b, record.OpAddEdge, p.src[0], p.src[1], 200)
		}, 1, func(p ids) string { return fmt.Sprintf("edge %d -> %d has unknown type 200", p.src[0], p.src[1]) }, KindState, 0},
		{"binding of a missing page", func(b []byte, p ids) []byte {
			return record.AppendBind(b, missing, "passthrough", nil, p.src[:1])
		}, 1, func(ids) string { return fmt.Sprintf("binding of page %d, which does not exist", missing) }, KindOrphan, 0},
		{"binding of a bound page", func(b []byte, p ids) []byte {
			return record.AppendBind(b, p.derived[0], "passthrough", nil, p.src[:1])
		}, 1, func(p ids) string { return fmt.Sprintf("binding of page %d, which is already bound", p.derived[0]) }, KindState, 0},
		{"binding naming a missing parent", func(b []byte, p ids) []byte {
			return record.AppendBind(b, p.src[5], "passthrough", nil, []mmsb.PageID{missingParent})
		}, 1, func(p ids) string {
			return fmt.Sprintf("binding of page %d names parent %d, which does not exist", p.src[5], missingParent)
		}, KindOrphan, 0},
		{"unbind of an unbound page", func(b []byte, p ids) []byte {
			return record.AppendUnbind(b, p.src[0])
		}, 1, func(p ids) string { return fmt.Sprintf("unbind of page %d, which is not bound", p.src[0]) }, KindState, 0},
		{"wave op naming a missing dirty page", func(b []byte, p ids) []byte {
			b[0] = record.WaveFormatVersion // a payload holding a wave op
			return record.AppendWave(b, []mmsb.PageID{p.src[0], missing}, p.derived[:1])
		}, 1, func(ids) string { return fmt.Sprintf("wave op names page %d as dirty, which does not exist", missing) }, KindOrphan, 0},
		{"wave op holding back an unbound page", func(b []byte, p ids) []byte {
			b[0] = record.WaveFormatVersion
			return record.AppendWave(b, p.src[:1], []mmsb.PageID{p.src[1], p.derived[0]})
		}, 1, func(p ids) string {
			return fmt.Sprintf("wave op names page %d as held back, which is not bound", p.src[1])
		}, KindState, 0},
		{"fewer operations than declared", func(b []byte, _ ids) []byte {
			return oneDelta(b)
		}, 2, func(ids) string { return "record declares 2 operations, payload holds 1" }, KindSchema, 1},
		{"more operations than declared", func(b []byte, _ ids) []byte {
			return oneDelta(oneDelta(b))
		}, 1, func(ids) string { return "trailing bytes after the 1 declared operations" }, KindSchema, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := vfs.NewMem()
			e := openBus(t, fs, nil)
			src, derived := populate(t, e, 10, 2)
			e.Close()
			rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
			requireOK(t, rep, err)
			p := ids{src, derived}
			lsn := appendRecord(t, fs, func(b []byte) []byte { return tc.encode(b, p) }, tc.count)
			rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
			got := requireKind(t, rep, err, tc.want(p), tc.kind, 0)
			if got.LSN != lsn+tc.lsnPlus {
				t.Fatalf("reported at LSN %d, want %d: %v", got.LSN, lsn+tc.lsnPlus, got)
			}
		})
	}
}

// A wave op whose dirty pages exist and whose held-back pages are bound is
// no problem (the rows above are its refusals): the integrity validator
// checks what mmsb's checkWave checks, no more.
func TestIntegrityAcceptsWaveOp(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	src, derived := populate(t, e, 10, 2)
	e.Close()
	appendRecord(t, fs, func(b []byte) []byte {
		b[0] = record.WaveFormatVersion
		return record.AppendWave(b, src[:3], derived[:2])
	}, 1)
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)
}
