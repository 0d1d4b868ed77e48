package mmsb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// A checkpoint taken between a commit and its propagation keeps the pages
// waiting for the wave: after a restart from it (nothing of the log
// replayed), the next wave raises the flags the write called for. Before,
// the dirty set was not in the checkpoint and the Control edge's child
// stayed unflagged for good (ScheduleResync recomputes Data-edge children
// only).
func TestCheckpointKeepsPendingPropagation(t *testing.T) {
	for _, tc := range []struct {
		edge EdgeType
		flag uint8
	}{
		{EdgeControl, FlagStale},
		{EdgeGPUSync, FlagSyncPending},
		{EdgeCompiler, FlagIRInvalid},
	} {
		t.Run(tc.edge.String(), func(t *testing.T) {
			dir := t.TempDir()
			e := openT(t, dir, nil)
			ids := mustCreate(t, e, 4, 16)
			a, b, c, d := ids[0], ids[1], ids[2], ids[3]
			for _, ed := range [][2]PageID{{a, b}, {c, d}} {
				if err := e.AddEdge(ctx, ed[0], ed[1], tc.edge); err != nil {
					t.Fatal(err)
				}
			}
			// c's write is propagated before the checkpoint, a's is not.
			if _, err := e.Commit(ctx, []delta.Delta{w(c, 0, "c")}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Propagate(ctx); err != nil {
				t.Fatal(err)
			}
			if err := e.ClearFlags(ctx, d, tc.flag); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Commit(ctx, []delta.Delta{w(a, 0, "a")}); err != nil {
				t.Fatal(err)
			}
			info, err := e.Checkpoint(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}

			e = openT(t, dir, nil)
			defer e.Close()
			if rec := e.Recovery(); rec.CheckpointLSN != info.LSN || rec.ReplayedOps != 0 {
				t.Fatalf("recovery %+v: want the checkpoint at LSN %d and nothing replayed", rec, info.LSN)
			}
			if got := e.Pending(); got != 1 {
				t.Fatalf("Pending after the restart = %d, want 1 (page %d, written and not propagated)", got, a)
			}
			r, err := e.Propagate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if r.Roots != 1 {
				t.Fatalf("wave after the restart started from %d pages, want 1", r.Roots)
			}
			for _, pc := range []struct {
				id   PageID
				want uint8
			}{{b, tc.flag}, {d, 0}} {
				got, err := e.Flags(pc.id)
				if err != nil {
					t.Fatal(err)
				}
				if got != pc.want {
					t.Errorf("flags of page %d after the wave = %#x, want %#x", pc.id, got, pc.want)
				}
			}
		})
	}
}

// More pending pages than one record holds are split over several
// records, read back whole and in order; loading the checkpoint and
// taking another writes the same bytes.
func TestCheckpointPendingSpansRecords(t *testing.T) {
	dir := t.TempDir()
	e := openT(t, dir, &Options{Sync: SyncNone, CheckpointBytes: -1})
	n := record.MaxPendingPerRecord + 3
	ids := mustCreate(t, e, n+1, 1)
	hub := ids[n]
	ds := make([]delta.Delta, n)
	for i := range n {
		if err := e.AddEdge(ctx, ids[i], hub, EdgeControl); err != nil {
			t.Fatal(err)
		}
		ds[n-1-i] = w(ids[i], 0, "x") // the dirty set in descending order
	}
	if _, err := e.Commit(ctx, ds); err != nil {
		t.Fatal(err)
	}
	info, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := pendingRecords(t, e.fs, info.Path); got != 2 {
		t.Fatalf("%d pending records for %d pages, want 2", got, n)
	}
	first, err := os.ReadFile(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = openT(t, dir, &Options{Sync: SyncNone, CheckpointBytes: -1})
	defer e.Close()
	if got := e.Pending(); got != n {
		t.Fatalf("Pending after the restart = %d, want %d", got, n)
	}
	if !slices.IsSorted(e.dirty) || len(e.dirty) != n || e.dirty[0] != ids[0] || e.dirty[n-1] != ids[n-1] {
		t.Fatalf("dirty set after the restart: %d pages from %d to %d, sorted %v; want %d from %d to %d",
			len(e.dirty), e.dirty[0], e.dirty[len(e.dirty)-1], slices.IsSorted(e.dirty), n, ids[0], ids[n-1])
	}
	again, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(again.Path)
	if err != nil {
		t.Fatal(err)
	}
	if again.LSN != info.LSN || !bytes.Equal(first, second) {
		t.Fatalf("checkpoint of the loaded bus: LSN %d, %d bytes; want LSN %d and the %d bytes loaded, unchanged",
			again.LSN, len(second), info.LSN, len(first))
	}
}

// pendingRecords counts the CkptPending records of the checkpoint at path.
func pendingRecords(t *testing.T, fs vfs.FS, path string) int {
	t.Helper()
	r, err := checkpoint.Open(fs, path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		kind, _, err := r.Next()
		if err != nil {
			break
		}
		if kind == record.CkptPending {
			n++
		}
	}
	return n
}

// The loader refuses pending records a bus never writes, with
// ErrCorruption naming what is wrong, so that recovery falls back to an
// older checkpoint instead of propagating from pages that do not exist.
func TestLoadCheckpointRefusesBadPendingRecords(t *testing.T) {
	const lsn = 10
	pending := func(ids ...PageID) []byte { return record.AppendPending(nil, ids) }
	for _, tc := range []struct {
		name    string
		pending [][]byte
		want    string // "" when the load must succeed
	}{
		{"two pages, two records (control)", [][]byte{pending(1), pending(2)}, ""},
		{"a page the checkpoint does not hold", [][]byte{pending(1, 3)}, "names page 3, which the checkpoint does not hold"},
		{"records out of order", [][]byte{pending(2), pending(1)}, "starts at page 1, not after page 2"},
		{"a page twice across records", [][]byte{pending(1), pending(1, 2)}, "starts at page 1, not after page 1"},
		{"no page IDs", [][]byte{{0}}, "holds 0 page IDs"},
		{"a gap of zero", [][]byte{{2, 1, 0}}, "gap 0 after page ID 1"},
		{"bytes after the IDs", [][]byte{append(pending(1), 7)}, "1 bytes after the page set"},
		{"a count the payload cannot hold", [][]byte{{0xff, 0xff, 0x03, 1}}, "declares 65535 page IDs in 1 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f framedRecords
			f.add(record.CkptState, record.AppendState(nil, &record.State{LastLSN: lsn, NextID: 3, Pages: 2}))
			f.add(record.CkptPage, smallPage(1))
			f.add(record.CkptPage, smallPage(2))
			for _, p := range tc.pending {
				f.add(record.CkptPending, p)
			}
			checkFramedLoad(t, f, lsn, tc.want, 2)
		})
	}
}

// framedRecords is a checkpoint's records as loadFramed takes them: each a
// kind byte, a little-endian u16 payload length, then the payload.
type framedRecords []byte

func (f *framedRecords) add(kind uint8, payload []byte) {
	*f = append(*f, kind)
	*f = binary.LittleEndian.AppendUint16(*f, uint16(len(payload)))
	*f = append(*f, payload...)
}

// smallPage is the page record of an 8-byte page id last written at LSN 4.
func smallPage(id PageID) []byte {
	img := record.PageImage{ID: id, Size: 8, Epoch: 1, LastLSN: 4, Data: []byte("abcdefgh")}
	return record.AppendPage(nil, &img)
}

// checkFramedLoad loads f (see loadFramed) and checks the outcome: with
// want "", a load that succeeds and leaves wantPending pages pending; else
// ErrCorruption saying want, and nothing pending.
func checkFramedLoad(t *testing.T, f framedRecords, lsn LSN, want string, wantPending int) {
	t.Helper()
	e, _, err := loadFramed(t, f, lsn)
	if want == "" {
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		if got := e.Pending(); got != wantPending {
			t.Fatalf("Pending after the load = %d, want %d", got, wantPending)
		}
		return
	}
	if !errors.Is(err, ErrCorruption) || !strings.Contains(err.Error(), want) {
		t.Fatalf("load: %v; want ErrCorruption saying %q", err, want)
	}
	if got := e.Pending(); got != 0 {
		t.Fatalf("Pending after a refused load = %d, want 0", got)
	}
}
