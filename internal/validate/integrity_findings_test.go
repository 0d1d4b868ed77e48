package validate

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// This file holds negative controls for integrity findings that a mutation
// review found no test caught: each builds the damaged case through an
// input a user can hand the validator (a directory's files, or a bus opened
// from a doctored checkpoint) and requires that exact finding, of that kind.

// checkpointedBus returns a closed bus's directory (populate's checkpoint
// in the middle and one more at its last LSN), the source pages, and the
// newest checkpoint; the directory passes first.
func checkpointedBus(t *testing.T) (vfs.FS, []mmsb.PageID, mmsb.CheckpointInfo) {
	t.Helper()
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	src, _ := populate(t, e, 10, 4)
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)
	return fs, src, ck
}

// editCheckpointState rewrites the newest checkpoint with its state record
// (the bus-wide counts and next page ID) changed by edit, so that a bus
// opens from a checkpoint whose pages editCheckpoint changed: Open refuses
// one whose page count or IDs disagree with its state record, and then
// recovers from an older checkpoint instead.
func editCheckpointState(t *testing.T, fs vfs.FS, edit func(*record.State)) {
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
	var kinds []uint8
	var payloads [][]byte
	for {
		kind, payload, err := rd.Next()
		if err != nil {
			break
		}
		payload = append([]byte(nil), payload...)
		if kind == record.CkptState {
			st, err := record.DecodeState(payload)
			if err != nil {
				t.Fatal(err)
			}
			edit(&st)
			payload = record.AppendState(nil, &st)
		}
		kinds, payloads = append(kinds, kind), append(payloads, payload)
	}
	rd.Close()
	w, err := checkpoint.Create(fs, ckDir, list[0].LSN)
	if err != nil {
		t.Fatal(err)
	}
	for i := range kinds {
		if err := w.Append(kinds[i], payloads[i]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrityReportsUnreadableLogMode: checkpoints/log-mode, which says
// whether a log continues the checkpoints, holds bytes that are not a log
// mode. Whether the log was removed cannot be decided: a KindFailed problem
// naming the file, not a pass.
func TestIntegrityReportsUnreadableLogMode(t *testing.T) {
	fs, _, _ := checkpointedBus(t)
	ckDir := fs.Join(busDir, "checkpoints")
	modePath := fs.Join(ckDir, tlog.ModeFileName)
	writeFile(t, fs, modePath, []byte("not a log mode at all"))
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	p := requireKind(t, rep, err, modePath, KindFailed, 0)
	if p.Where != ckDir {
		t.Fatalf("reported in %q, want %q: %v", p.Where, ckDir, p)
	}
}

// TestIntegrityReportsUndecodablePayload: a well-framed record (its CRC
// valid) whose payload does not start with the record format's version.
func TestIntegrityReportsUndecodablePayload(t *testing.T) {
	fs, _, _ := checkpointedBus(t)
	lsn := appendRecord(t, fs, func([]byte) []byte { return []byte{0xEE, 0x02} }, 1)
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	p := requireKind(t, rep, err, "payload does not decode: ", KindSchema, 0)
	if p.LSN != lsn {
		t.Fatalf("reported at LSN %d, want %d: %v", p.LSN, lsn, p)
	}
	requireKind(t, rep, err, "unknown payload version 238", KindSchema, 0)
}

// TestIntegrityCheckpointComparisonFindings: the checkpoints the scan
// passes (the log starts at LSN 1, so every checkpoint is compared) are
// damaged: one fails its CRC, so it cannot be compared; one holds a page at
// another size than the log created it with.
func TestIntegrityCheckpointComparisonFindings(t *testing.T) {
	t.Run("checkpoint does not load", func(t *testing.T) {
		fs, _, ck := checkpointedBus(t)
		corruptCheckpoint(t, fs, ck.Path)
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		p := requireKind(t, rep, err, "checkpoint does not load: ", KindFailed, 0)
		if p.LSN != ck.LSN || p.Where != ck.Path {
			t.Fatalf("problem at LSN %d in %q, want LSN %d in %q", p.LSN, p.Where, ck.LSN, ck.Path)
		}
	})
	t.Run("page size differs", func(t *testing.T) {
		fs, src, ck := checkpointedBus(t)
		rewriteCheckpointWith(t, fs, src[3], func(img *record.PageImage) {
			img.Size += 8
			img.Data = append(img.Data, make([]byte, 8)...)
		})
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		want := fmt.Sprintf("page %d: log gives size 64 at LSN %d, checkpoint has size 72", src[3], ck.LSN)
		p := requireKind(t, rep, err, want, KindState, src[3])
		if p.LSN != ck.LSN || p.Where != ck.Path {
			t.Fatalf("problem at LSN %d in %q, want LSN %d in %q", p.LSN, p.Where, ck.LSN, ck.Path)
		}
	})
}

// TestIntegrityLiveStateFindings: a bus opened from a doctored newest
// checkpoint holds live pages the log disagrees with. The log starts at
// LSN 1, so the scan tracks the state from empty and compares every live
// page with it: a page the log never created (the checkpoint's image of
// one page renamed, which keeps the page counts equal), a page at another
// size, and a page the log has but the bus lost (only the counts differ:
// the per-page loop walks the live pages). The page edited is src[5], which
// no binding names: Open refuses a checkpoint whose binding names a page it
// does not hold, and recovers from the older one instead.
func TestIntegrityLiveStateFindings(t *testing.T) {
	const ghost = mmsb.PageID(7777)
	tests := []struct {
		name string
		edit func(src []mmsb.PageID) func(*record.PageImage) bool
		st   func(*record.State) // keeps the state record consistent with the pages
		want func(src []mmsb.PageID) string
		page func(src []mmsb.PageID) mmsb.PageID
	}{
		{"page the log never created", func(src []mmsb.PageID) func(*record.PageImage) bool {
			return func(img *record.PageImage) bool {
				if img.ID == src[5] {
					img.ID = ghost
				}
				return true
			}
		}, func(st *record.State) { st.NextID = ghost + 1 }, func([]mmsb.PageID) string {
			return fmt.Sprintf("page %d is live but the log never created it", ghost)
		}, func([]mmsb.PageID) mmsb.PageID { return ghost }},
		{"page size differs", func(src []mmsb.PageID) func(*record.PageImage) bool {
			return func(img *record.PageImage) bool {
				if img.ID == src[5] {
					img.Size += 8
					img.Data = append(img.Data, make([]byte, 8)...)
				}
				return true
			}
		}, func(*record.State) {}, func(src []mmsb.PageID) string {
			return fmt.Sprintf("page %d: log created it with 64 bytes, live size is 72", src[5])
		}, func(src []mmsb.PageID) mmsb.PageID { return src[5] }},
		{"page count differs", func(src []mmsb.PageID) func(*record.PageImage) bool {
			return func(img *record.PageImage) bool { return img.ID != src[5] }
		}, func(st *record.State) { st.Pages-- }, func([]mmsb.PageID) string {
			return "log leaves 15 page(s), live bus has 14"
		}, func([]mmsb.PageID) mmsb.PageID { return 0 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, src, _ := checkpointedBus(t)
			e := openBus(t, fs, nil)
			rep, err := Integrity(ctx, Live(e), Options{})
			requireOK(t, rep, err) // the same bus, opened from a sound checkpoint
			e.Close()
			editCheckpoint(t, fs, tc.edit(src))
			editCheckpointState(t, fs, tc.st)
			e = openBus(t, fs, nil) // its state comes from the doctored checkpoint
			defer e.Close()
			rep, err = Integrity(ctx, Live(e), Options{})
			p := requireKind(t, rep, err, tc.want(src), KindState, tc.page(src))
			if p.Where != "live state" {
				t.Fatalf("reported in %q, want the live state: %v", p.Where, p)
			}
		})
	}
}
