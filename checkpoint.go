package mmsb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/invariants"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// keepCheckpoints is how many checkpoints are retained. Log segments are
// removed only once the OLDEST retained checkpoint covers them, so a corrupt
// newest checkpoint can always fall back to the previous one plus the log.
const keepCheckpoints = 2

// CheckpointInfo describes a checkpoint taken.
type CheckpointInfo struct {
	Path            string
	LSN             LSN
	Pages           int
	Bytes           int64
	Duration        time.Duration
	SegmentsRemoved int
}

// Checkpoint writes a full snapshot (pages in ID order, metadata, flags,
// edges, bindings, counters and the LSN covered) atomically, then removes
// old checkpoints and the log segments the oldest retained one covers.
//
// Commits go on while the pages are written: the snapshot is taken at one
// LSN (under the lock: page IDs, graph, bindings, counters), and a commit
// that is about to change a page the checkpoint has not written yet first
// saves the page's image as of that LSN (copy on write). The checkpoint then
// writes the saved image instead of the live page. Extra memory is bounded
// by the pages changed while the checkpoint runs.
func (e *Bus) Checkpoint(ctx context.Context) (CheckpointInfo, error) {
	e.ckptMu.Lock()
	defer e.ckptMu.Unlock()
	start := time.Now()
	e.mu.Lock()
	if err := e.usable(); err != nil {
		e.mu.Unlock()
		return CheckpointInfo{}, err
	}
	snap := e.beginSnapshotLocked()
	e.mu.Unlock()

	// The log must durably hold everything the checkpoint covers, so that
	// the log never ends before a checkpoint's LSN. The fsync runs outside
	// the bus lock (commits go on; the log orders its own syncs): only the
	// checkpoint's commit, below, depends on it.
	if e.log != nil {
		if err := e.log.Sync(); err != nil {
			e.mu.Lock()
			e.cow = nil
			err = e.fail(err)
			e.mu.Unlock()
			return CheckpointInfo{}, err
		}
	}

	info, err := e.writeCheckpoint(snap)

	e.mu.Lock()
	e.cow = nil
	var logBytes uint64
	if e.log != nil {
		logBytes = e.log.Stats().Bytes
	}
	e.mu.Unlock()
	if err != nil {
		e.noteCheckpointFailure(err, logBytes)
		return info, err
	}
	e.ckptStatMu.Lock()
	e.lastCkptLSN = info.LSN
	e.checkpointCount++
	e.ckptStatMu.Unlock()
	e.lastCkptBytes.Store(logBytes)
	e.lastCkptTime.Store(time.Now().UnixNano())
	if err := e.pruneAfterCheckpoint(&info); err != nil {
		// The checkpoint is good but the log it covers stays: count it, so
		// that a log that is never trimmed shows.
		e.noteCheckpointFailure(err, logBytes)
		return info, err
	}
	e.ckptFailStreak.Store(0)
	info.Duration = time.Since(start)
	return info, nil
}

// noteCheckpointFailure records a failed checkpoint (Stats) and delays the
// next automatic attempt by a full CheckpointBytes or CheckpointInterval,
// so that a persistent failure is not retried at every commit. logBytes is
// the log's size when the checkpoint ended.
func (e *Bus) noteCheckpointFailure(err error, logBytes uint64) {
	e.ckptStatMu.Lock()
	e.ckptFailures++
	e.ckptLastErr = err
	e.ckptStatMu.Unlock()
	e.ckptFailStreak.Add(1)
	e.ckptRetryBytes.Store(logBytes)
	e.ckptRetryTime.Store(time.Now().UnixNano())
}

// checkpointStallFactor bounds the log's growth while checkpoints fail: see
// Options.CheckpointBytes.
const checkpointStallFactor = 4

// logBoundErr returns ErrCheckpointFailing when checkpoints have failed
// since the last success and the log has grown past its bound since then.
// Automatic checkpoints must be on: with only explicit checkpoints the
// caller sees each failure and manages the log itself. The common case
// costs one atomic load. Caller holds e.mu.
func (e *Bus) logBoundErr() error {
	if e.ckptFailStreak.Load() == 0 || e.log == nil || !e.autoCheckpoints() {
		return nil
	}
	per := e.opts.CheckpointBytes
	if per <= 0 {
		per = defaultCheckpointBytes
	}
	bound := uint64(checkpointStallFactor) * uint64(per)
	grown := e.log.Stats().Bytes - e.lastCkptBytes.Load()
	if grown < bound {
		return nil
	}
	e.ckptStatMu.Lock()
	last := e.ckptLastErr
	e.ckptStatMu.Unlock()
	return fmt.Errorf("%w: the log grew %d bytes since the last successful checkpoint (bound %d); last failure: %w",
		ErrCheckpointFailing, grown, bound, last)
}

// autoCheckpoints reports whether automatic checkpoints are on.
func (e *Bus) autoCheckpoints() bool {
	return e.opts.CheckpointBytes >= 0 || e.opts.CheckpointInterval > 0
}

// snapshot is what a checkpoint covers, taken at one LSN.
type snapshot struct {
	state    record.State
	ids      []PageID // live pages at the LSN, ascending
	edges    []graph.Edge
	bindings []PageID
	binds    map[PageID]Binding
	// bytesHint is about the size of the checkpoint file.
	bytesHint int64
}

// cowState is the copy-on-write bookkeeping of a running checkpoint.
// Guarded by e.mu: commits change it under the write lock, the checkpoint
// writer reads it (and advances written) under the read lock.
//
// A commit checks it for every page it is about to change, so the common
// cases cost no map access: a page below nextUnwritten is written already
// (or not in the snapshot), and a page whose last-write LSN is past the
// snapshot's was created or already saved after it. Saved bytes go to
// large pointer-free blocks rather than one heap object per page, so that a
// checkpoint running under load adds little allocation and GC work to the
// commits it overlaps.
type cowState struct {
	snap    *snapshot
	written int // pages of snap.ids already written (a prefix: IDs ascend)
	// nextUnwritten is snap.ids[written], or the largest ID once every page
	// is written.
	nextUnwritten PageID
	saved         map[PageID]int32 // index into images
	images        []record.PageImage
	blocks        cowBlocks
}

// beginSnapshotLocked captures the checkpoint's snapshot and turns copy on
// write on. Caller holds e.mu.
func (e *Bus) beginSnapshotLocked() *snapshot {
	s := &snapshot{
		state: record.State{LastLSN: e.lastLSN, NextID: e.nextID, LastTime: e.lastTime,
			Pages: uint64(e.store.Len()), Edges: uint64(e.graph.NumEdges()), Bindings: uint64(len(e.bindings))},
		ids:      e.store.AppendIDs(make([]PageID, 0, e.store.Len())),
		bindings: e.sortedBindingIDs(),
		binds:    make(map[PageID]Binding, len(e.bindings)),
	}
	e.graph.Edges(func(ed graph.Edge) bool { s.edges = append(s.edges, ed); return true })
	s.bytesHint = e.store.Stats().LogicalBytes + int64(len(s.ids))*pageRecordOverhead +
		int64(len(s.edges))*32 + int64(len(s.bindings))*64 + 4096
	for id, b := range e.bindings {
		s.binds[id] = *b // bindings are replaced, never mutated, so sharing slices is safe
	}
	e.cow = &cowState{snap: s, saved: map[PageID]int32{}}
	e.cow.advance(0)
	return s
}

// pageRecordOverhead is about the bytes of a page record beyond the page's
// bytes (frame header, ID, sizes, epoch, LSN, flags).
const pageRecordOverhead = 48

// advance records that the first n pages of the snapshot are written.
func (c *cowState) advance(n int) {
	c.written = n
	if n < len(c.snap.ids) {
		c.nextUnwritten = c.snap.ids[n]
	} else {
		c.nextUnwritten = ^PageID(0)
	}
}

// cowSave saves page id's image before it changes, if a running checkpoint
// still needs it. Caller holds e.mu for writing.
func (e *Bus) cowSave(id PageID) {
	c := e.cow
	if c == nil || id < c.nextUnwritten {
		return // no checkpoint, or written already (or not in the snapshot)
	}
	sl, ok := e.store.Lookup(id)
	if !ok {
		return
	}
	// Every change to a page of the snapshot passes here first, so a page
	// last written after the snapshot was saved then, or created after it.
	// (Metadata and flag changes do not move the last-write LSN: the map
	// catches pages they saved.)
	if e.store.LastLSN(sl) > c.snap.state.LastLSN {
		return
	}
	if _, ok := c.saved[id]; ok {
		return
	}
	c.saved[id] = int32(len(c.images))
	c.images = append(c.images, record.PageImage{})
	img := &c.images[len(c.images)-1]
	e.pageImage(sl, img)
	img.Data = c.blocks.copy(img.Data)
}

// cowBlocks holds saved page bytes in large blocks: one allocation per
// cowBlockBytes instead of one per page, and nothing for the GC to scan.
type cowBlocks struct {
	cur []byte // the block being filled (len: bytes used); full ones stay reachable from images
}

// cowBlockBytes is the size of one block of saved page bytes.
const cowBlockBytes = 4 << 20

// copy returns a copy of b held in a block.
func (bl *cowBlocks) copy(b []byte) []byte {
	if len(b) > cowBlockBytes/4 {
		return bytes.Clone(b) // a large page: its own allocation
	}
	if cap(bl.cur)-len(bl.cur) < len(b) {
		bl.cur = make([]byte, 0, cowBlockBytes)
	}
	n := len(bl.cur)
	bl.cur = append(bl.cur, b...)
	return bl.cur[n : n+len(b) : n+len(b)]
}

// pageImage fills img with a page's checkpoint image; img.Data aliases the
// live page bytes (copy them if the page may change before img is used).
// Metadata is always copied by AppendMeta (nil when the page has none).
func (e *Bus) pageImage(sl page.Slot, img *record.PageImage) {
	id := e.store.ID(sl)
	*img = record.PageImage{ID: id, Size: uint32(e.store.Size(sl)), Location: e.store.Location(sl),
		Epoch: e.store.Epoch(sl), LastLSN: e.store.LastLSN(sl), Flags: e.flags[id],
		Meta: page.AppendMeta(img.Meta[:0], e.store.Meta(sl)), Data: e.store.Bytes(sl)}
}

// ckptPageBatch is how many pages the checkpoint encodes per read-lock hold.
const ckptPageBatch = 64

// writeCheckpoint writes snap to a new checkpoint file. Pages are encoded
// under the read lock in small batches (so commits interleave) and written
// to the file outside it.
func (e *Bus) writeCheckpoint(snap *snapshot) (CheckpointInfo, error) {
	lsn := snap.state.LastLSN
	w, err := checkpoint.Create(e.fs, e.ckptDir(), lsn)
	if err != nil {
		return CheckpointInfo{}, fmt.Errorf("mmsb: checkpoint: %w", err)
	}
	// An in-memory file that doubles as it grows copies itself under the
	// filesystem's lock, which the log's writes (under the bus lock) wait
	// for: reserve the expected size once instead.
	w.SizeHint(snap.bytesHint)
	fail := func(err error) (CheckpointInfo, error) {
		w.Abort()
		return CheckpointInfo{}, fmt.Errorf("mmsb: checkpoint: %w", err)
	}
	buf := record.AppendState(nil, &snap.state)
	if err := w.Append(record.CkptState, buf); err != nil {
		return fail(err)
	}
	var batch []byte
	var ends []int
	var live record.PageImage // the image of a live page, reused
	for i := 0; i < len(snap.ids); {
		batch, ends = batch[:0], ends[:0]
		e.mu.RLock()
		if e.closed {
			e.mu.RUnlock()
			return fail(ErrClosed)
		}
		for n := 0; i < len(snap.ids) && n < ckptPageBatch; i, n = i+1, n+1 {
			id := snap.ids[i]
			img := &live
			if k, ok := e.cow.saved[id]; ok {
				img = &e.cow.images[k]
			} else {
				sl, ok := e.store.Lookup(id)
				if !ok {
					e.mu.RUnlock()
					return fail(fmt.Errorf("page %d vanished without a saved image", id))
				}
				e.pageImage(sl, &live) // encoded below, before the lock is released
			}
			batch = record.AppendPage(batch, img)
			ends = append(ends, len(batch))
			e.cow.advance(i + 1)
		}
		e.mu.RUnlock()
		from := 0
		for _, end := range ends {
			if err := w.Append(record.CkptPage, batch[from:end]); err != nil {
				return fail(err)
			}
			from = end
		}
	}
	for _, ed := range snap.edges {
		buf = record.AppendEdge(buf[:0], record.OpAddEdge, ed.Parent, ed.Child, uint8(ed.Type))
		if err := w.Append(record.CkptEdge, buf); err != nil {
			return fail(err)
		}
	}
	for _, id := range snap.bindings {
		b := snap.binds[id]
		buf = record.AppendBind(buf[:0], id, b.Func, b.Params, b.Parents)
		if err := w.Append(record.CkptBinding, buf); err != nil {
			return fail(err)
		}
	}
	path, err := w.Commit()
	if err != nil {
		return CheckpointInfo{}, fmt.Errorf("mmsb: checkpoint: %w", err)
	}
	if invariants.Enabled {
		// Read back what was just written: every frame and the trailer.
		if err := checkpoint.Verify(e.fs, path); err != nil {
			panic(fmt.Sprintf("invariants: checkpoint %s does not verify: %v", path, err))
		}
	}
	return CheckpointInfo{Path: path, LSN: lsn, Pages: len(snap.ids)}, nil
}

// retainedCheckpoints is how many checkpoints the bus keeps: keepCheckpoints
// on disk; one for an in-memory bus (dir ""), whose checkpoints no crash or
// bad sector can corrupt, so that a second one is not a whole extra copy of
// the state held in RAM (issue 15: an in-memory bus holds its pages, one
// checkpoint and the log since it, at most about CheckpointBytes).
func (e *Bus) retainedCheckpoints() int {
	if e.memory {
		return 1
	}
	return keepCheckpoints
}

func (e *Bus) pruneAfterCheckpoint(info *CheckpointInfo) error {
	keep := e.retainedCheckpoints()
	list, err := checkpoint.List(e.fs, e.ckptDir())
	if err != nil {
		return err
	}
	for _, c := range list {
		if c.Path == info.Path {
			info.Bytes = c.Size
		}
	}
	removed := 0
	if len(list) > keep {
		removed = len(list) - keep
		for _, c := range list[keep:] {
			if err := e.fs.Remove(c.Path); err != nil {
				return fmt.Errorf("mmsb: remove old checkpoint: %w", err)
			}
		}
		list = list[:keep]
		_ = e.fs.SyncDir(e.ckptDir())
	}
	if e.log != nil && len(list) >= keep {
		n, err := e.log.RemoveThrough(list[len(list)-1].LSN)
		if err != nil {
			return fmt.Errorf("mmsb: remove covered log segments: %w", err)
		}
		info.SegmentsRemoved = n
	}
	if e.memory && removed > 0 {
		// The old checkpoint and log segments of an in-memory bus were Go
		// heap: give their memory back to the OS now, not when the
		// scavenger gets to it (the heap goal would otherwise keep up to
		// twice the checkpoint resident). Runs on the checkpointing
		// goroutine; commits go on meanwhile.
		debug.FreeOSMemory()
	}
	return nil
}

// loadCheckpoint loads a checkpoint into the (empty) state.
func (e *Bus) loadCheckpoint(path string) error { return e.loadCheckpointFrom(e.fs, path) }

func (e *Bus) loadCheckpointFrom(fs vfs.FS, path string) error {
	r, err := checkpoint.Open(fs, path)
	if err != nil {
		return err
	}
	defer r.Close()
	var st record.State
	var img record.PageImage
	var op record.Op
	n := 0
	for {
		kind, payload, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n++
		if n == 1 && kind != record.CkptState {
			return corruption.New(path, -1, "first record is kind %d, want state", kind)
		}
		switch kind {
		case record.CkptState:
			if n != 1 {
				return corruption.New(path, -1, "second state record")
			}
			if st, err = record.DecodeState(payload); err != nil {
				return corruption.Wrap(path, -1, err, "state record")
			}
			if st.LastLSN != r.LSN() {
				return corruption.New(path, -1, "state LSN %d != header LSN %d", st.LastLSN, r.LSN())
			}
		case record.CkptPage:
			if err := record.DecodePage(payload, &img); err != nil {
				return corruption.Wrap(path, -1, err, "page record")
			}
			sl, err := e.store.CreateAt(img.ID, int(img.Size), img.Location, uint64(img.LastLSN))
			if err != nil {
				return corruption.Wrap(path, -1, err, "page %d", img.ID)
			}
			copy(e.store.Bytes(sl), img.Data)
			e.store.SetEpoch(sl, img.Epoch)
			e.store.SetLastLSN(sl, img.LastLSN)
			if len(img.Meta) > 0 {
				entries, err := page.DecodeMeta(img.Meta)
				if err != nil {
					return corruption.Wrap(path, -1, err, "page %d metadata", img.ID)
				}
				if err := e.store.SetMeta(sl, entries); err != nil {
					return err
				}
			}
			if img.Flags != 0 {
				e.flags[img.ID] = img.Flags
			}
		case record.CkptEdge:
			if err := record.DecodeOne(payload, record.OpAddEdge, &op); err != nil {
				return corruption.Wrap(path, -1, err, "edge record")
			}
			if err := e.checkEdgeEnds(op.Parent, op.Child, op.EdgeType); err != nil {
				return corruption.Wrap(path, -1, err, "edge or binding does not apply")
			}
			if _, err := e.graph.AddEdge(op.Parent, op.Child, base.EdgeType(op.EdgeType)); err != nil {
				return corruption.Wrap(path, -1, err, "edge or binding does not apply")
			}
			e.graphHasEdges = true
		case record.CkptBinding:
			if err := record.DecodeOne(payload, record.OpBind, &op); err != nil {
				return corruption.Wrap(path, -1, err, "binding record")
			}
			if err := e.checkBind(op.Page, op.Parents, false); err != nil {
				return corruption.Wrap(path, -1, err, "edge or binding does not apply")
			}
			e.bindings[op.Page] = &Binding{Func: op.Func, Params: append([]byte(nil), op.Params...),
				Parents: append([]PageID(nil), op.Parents...)}
		default:
			return corruption.New(path, -1, "unknown record kind %d", kind)
		}
	}
	if n == 0 {
		return corruption.New(path, -1, "no state record")
	}
	if uint64(e.store.Len()) != st.Pages || uint64(e.graph.NumEdges()) != st.Edges || uint64(len(e.bindings)) != st.Bindings {
		return corruption.New(path, -1, "counts differ from state record")
	}
	e.lastLSN, e.nextID, e.lastTime = st.LastLSN, st.NextID, st.LastTime
	return nil
}
