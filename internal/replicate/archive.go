package replicate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// ckptPrefix names checkpoint objects: "checkpoint-<LSN, 20 digits>", so
// name order is LSN order.
const ckptPrefix = "checkpoint-"

func ckptObjectName(lsn mmsb.LSN) string { return fmt.Sprintf("%s%020d", ckptPrefix, lsn) }

func parseCkptObjectName(name string) (mmsb.LSN, bool) {
	s, ok := strings.CutPrefix(name, ckptPrefix)
	if !ok || len(s) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return mmsb.LSN(n), err == nil
}

// checkpointObjects lists the stored checkpoints' LSNs, oldest first.
func (r *resources) checkpointObjects(ctx context.Context) ([]mmsb.LSN, error) {
	stored, err := r.storedCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	var lsns []mmsb.LSN
	for _, c := range stored {
		lsns = append(lsns, c.lsn)
	}
	return lsns, nil
}

// archiveCheckpoint takes a checkpoint of the leader's bus, waits until the
// stream stores every record it covers (a checkpoint never holds state the
// stream lacks), uploads it, deletes all but the newest kept checkpoints
// and trims the stream below the oldest kept one: the record at that
// checkpoint's LSN stays, so a follower bootstrapped from it can check its
// rolling hash against the stream.
//
// stop (nil: never), once closed, ends it with ErrLeaseLost: at once
// before the upload, and during it at the upload's next read, so that
// the object store's Put removes the chunks it sent. The end of ctx (the
// node stopped, or the caller's deadline) ends the upload the same way,
// with ctx's error. A Put whose context ends instead leaves them (its
// clean-up runs with that same, ended context): bytes no object names and
// nothing ever removes, up to a whole checkpoint per upload cut short.
// So the Put runs with a context of its own, ended only if the store
// reads on no more within AckTimeout after stop or ctx (a stalled store:
// its chunks, if any, stay then).
//
// logf (nil: none) is told which stored checkpoints trim leaves, those
// the stream does not continue.
func archiveCheckpoint(ctx context.Context, r *resources, bus *mmsb.Bus, pub *Publisher, stop <-chan struct{}, logf func(format string, args ...any)) (mmsb.LSN, error) {
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	if stop != nil {
		go func() {
			select {
			case <-stop:
				pcancel()
			case <-pctx.Done():
			}
		}()
	}
	info, err := bus.Checkpoint(pctx)
	if err != nil {
		return 0, fmt.Errorf("replicate: checkpoint: %w", err)
	}
	if err := pub.WaitStored(pctx, info.LSN); err != nil {
		return 0, err
	}
	f, err := os.Open(info.Path)
	if err != nil {
		return 0, fmt.Errorf("replicate: checkpoint: %w", err)
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	uctx, ucancel := context.WithCancel(context.WithoutCancel(ctx))
	defer ucancel()
	uploaded := make(chan struct{})
	defer close(uploaded) // runs before ucancel: the watcher returns
	go func() {
		select {
		case <-pctx.Done(): // stop closed, or ctx ended
		case <-uploaded:
			return
		}
		t := time.NewTimer(r.cfg.AckTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			ucancel()
		case <-uploaded:
		}
	}()
	meta := map[string]string{"lsn": strconv.FormatUint(uint64(info.LSN), 10)}
	// The state hash at the checkpoint's LSN, as the stream's record
	// ending there carries it (the leader's own, just stored): trim tells
	// by it the checkpoints the stream continues from those of another
	// history. Not found (an operator purged the stream meanwhile) or
	// not read (the stream out of reach: the upload fails then, or
	// succeeds once it is back), the key is left out and trim goes by
	// the LSN alone. It looks with pctx, which stop ends: with ctx, a
	// lease lost while the stream did not answer (up to a getMsg's
	// AckTimeout for each step of locate's search) held the role that
	// long, the upload stopped only after (TestArchiveStopsLookupsOnLeaseLost).
	if rec, ok, err := r.recordEndingAt(pctx, info.LSN); err == nil && ok {
		meta[ckptHashKey] = fmt.Sprintf("%016x", rec.Hash)
	}
	if _, err := r.ckpts.Put(uctx, jetstream.ObjectMeta{
		Name:     ckptObjectName(info.LSN),
		Metadata: meta,
	}, &stopReader{r: f, stop: stop, ctx: ctx}); err != nil {
		return 0, fmt.Errorf("replicate: upload checkpoint at LSN %d: %w", info.LSN, err)
	}
	// Trimmed with pctx too: a lease lost meanwhile ends the trim (the
	// next leader's trims), not the role only once the trim's reads of a
	// stream that does not answer time out.
	if err := trim(pctx, r, logf); err != nil {
		if stopped(stop) {
			return info.LSN, fmt.Errorf("replicate: trim after the upload at LSN %d: %w (%w)", info.LSN, ErrLeaseLost, err)
		}
		return info.LSN, err
	}
	return info.LSN, nil
}

// stopped reports whether stop (nil: never) is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// ckptHashKey is the checkpoint object's metadata key that holds the
// rolling state hash at its LSN, 16 hexadecimal digits (objects stored
// before 2026-12-07 lack it).
const ckptHashKey = "hash"

// storedCheckpoint is a checkpoint object: its LSN and the state hash its
// metadata names (hasHash false: none, or not 16 hexadecimal digits).
type storedCheckpoint struct {
	lsn     mmsb.LSN
	hash    uint64
	hasHash bool
	badHash string // a hash key that does not parse, as found
	nuid    string // the object's NUID: a new one at every Put of the name
}

// storedCheckpoints lists the stored checkpoints with their metadata,
// oldest first.
func (r *resources) storedCheckpoints(ctx context.Context) ([]storedCheckpoint, error) {
	// One call's timeout, not the caller's: a listing that hangs (a fresh
	// cluster still electing the object store's leader) fails in
	// AckTimeout and the node retries, instead of sitting out a
	// bootstrap's whole deadline (10 × AckTimeout) silent (seen in CI: a
	// follower stuck at LSN 0 for 30 s).
	lctx, cancel := r.call(ctx)
	defer cancel()
	infos, err := r.ckpts.List(lctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoObjectsFound) {
			return nil, nil
		}
		// The listing of a deleted bucket fails with "stream not
		// found", the bucket's stream: a follower that needed a
		// checkpoint to bootstrap said only that, read as the log's
		// stream gone, until 2026-12-07
		// (TestListCheckpointsOfDeletedBucketSaysSo).
		if r.checkpointBucketGone(ctx) {
			return nil, fmt.Errorf("replicate: list checkpoints: the checkpoint bucket %s does not exist (deleted by an operator, or another program; the leader makes it again once its next uploads fail, or a node started does, and the leader then stores a checkpoint into it): %w (%w)",
				r.cfg.CheckpointBucket(), jetstream.ErrBucketNotFound, err)
		}
		return nil, fmt.Errorf("replicate: list checkpoints: %w", err)
	}
	var out []storedCheckpoint
	for _, in := range infos {
		lsn, ok := parseCkptObjectName(in.Name)
		if !ok || in.Deleted {
			continue
		}
		c := storedCheckpoint{lsn: lsn, nuid: in.NUID}
		if v, ok := in.Metadata[ckptHashKey]; ok {
			h, err := strconv.ParseUint(v, 16, 64)
			if err == nil && len(v) == 16 {
				c.hash, c.hasHash = h, true
			} else {
				c.badHash = v
			}
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lsn < out[j].lsn })
	return out, nil
}

// recordEndingAt returns the stream's record whose last LSN is lsn and
// its sequence (ok false: the stream holds none, e.g. lsn falls inside a
// record, before the stream's first or after its last).
func (r *resources) recordEndingAt(ctx context.Context, lsn mmsb.LSN) (recordMeta, bool, error) {
	ictx, cancel := r.call(ctx)
	info, err := r.stream.Info(ictx)
	cancel()
	if err != nil {
		return recordMeta{}, false, fmt.Errorf("replicate: stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return recordMeta{}, false, nil
	}
	// Read as trim reads: a message deleted inside the stream (nats
	// stream rmm) is passed over, where it failed the look.
	rd := &trimReader{r: r, reads: map[uint64]trimRead{}}
	_, meta, found, err := rd.find(ctx, lsn, info.State.FirstSeq, info.State.LastSeq)
	if err != nil {
		return recordMeta{}, false, err
	}
	return meta, found && meta.Last == lsn, nil
}

// stopReader reads r until stop (nil: never) is closed, then fails with
// ErrLeaseLost, or until ctx ends, then fails with ctx's error.
type stopReader struct {
	r    io.Reader
	stop <-chan struct{}
	ctx  context.Context
}

func (s *stopReader) Read(p []byte) (int, error) {
	select {
	case <-s.stop:
		return 0, fmt.Errorf("%w: checkpoint upload stopped", ErrLeaseLost)
	case <-s.ctx.Done():
		return 0, fmt.Errorf("replicate: checkpoint upload stopped: %w", context.Cause(s.ctx))
	default:
	}
	return s.r.Read(p)
}

// leftLogLSNs is how many LSNs trim's line about the stored checkpoints
// it leaves names, oldest first; the rest it counts.
const leftLogLSNs = 10

// trim keeps the newest CheckpointsKept stored checkpoints that the
// stream continues, deletes the older ones it continues, and purges the
// stream below the record that ends at the oldest kept one's LSN.
//
// The stream continues a stored checkpoint when it holds a record ending
// at its LSN whose state hash is the one the object's metadata names (an
// object stored before that key, by the LSN alone), or when its first
// record starts right after it (a stream made again beside the bucket
// continues the newest checkpoint). Any other one is of another history
// (an old leader's late upload, a restored bucket: docs/replication.md,
// "Checkpoints of another history") or behind the stream's first record:
// no follower can start from it. Before, those counted among the kept
// ones: one at a higher LSN than the leader's took the place of the
// leader's own, fewer usable fallbacks were kept than configured, and
// with CheckpointsKept 1 the leader deleted the checkpoint it had just
// stored. They are not deleted either: nothing shows that their commits
// are in this history, and one may be the only copy of another history's
// acknowledged commits. logf (nil: none) is told which are left; an
// operator deletes them by hand.
//
// Over an empty stream (an operator purged it after the upload) nothing
// tells them apart: nothing is deleted.
func trim(ctx context.Context, r *resources, logf func(format string, args ...any)) error {
	stored, err := r.storedCheckpoints(ctx)
	if err != nil || len(stored) == 0 {
		return err
	}
	ictx, cancel := r.call(ctx)
	info, err := r.stream.Info(ictx)
	cancel()
	if err != nil {
		return fmt.Errorf("replicate: stream info: %w", err)
	}
	if info.State.Msgs == 0 {
		return nil
	}
	rd := &trimReader{r: r, reads: map[uint64]trimRead{}}
	headSeq, head, ok, err := rd.next(ctx, info.State.FirstSeq)
	if err != nil || !ok {
		return err // !ok: emptied since its info
	}
	tailSeq, tail, ok, err := rd.last(ctx)
	if err != nil || !ok {
		return err
	}
	tv := r.trimVerdicts
	if tv == nil {
		tv = &trimVerdicts{}
	}
	verdicts := tv.forStream(info.Created, stored)
	var kept []mmsb.LSN // newest first
	var purgeAt uint64  // the sequence of the record ending at the oldest kept one (0: none)
	var left []string   // those of another history, or behind the stream
	for i := len(stored) - 1; i >= 0; i-- {
		c := stored[i]
		continued, seq := false, uint64(0)
		switch {
		case c.lsn == head.First-1:
			// The stream starts right after it. Asked before the
			// remembered verdicts: one behind the stream's first
			// record is there again when the stream, emptied, is led
			// on from it (TestTrimVerdictYieldsToStreamStart).
			continued = true
		case verdicts.left(c):
			// Judged at an earlier trim of this stream: not continued,
			// for good (below). Searched again at every trim, a bucket
			// of thousands of another history's checkpoints cost
			// thousands of searches of the stream at each archive.
		case c.lsn < head.First || c.badHash != "":
			verdicts.remember(c) // behind the stream's first record, which only moves on
		case c.lsn <= tail.Last:
			s, meta, found, err := rd.find(ctx, c.lsn, headSeq, tailSeq)
			if err != nil {
				return err
			}
			continued = found && meta.Last == c.lsn && (!c.hasHash || meta.Hash == c.hash)
			seq = s
			if found && !continued && meta.First <= c.lsn {
				// The record holding its LSN is in the stream for
				// good (records only leave it, and once purged the
				// checkpoint lies behind the stream's start), and the
				// object's name, NUID and hash key are fixed: the
				// verdict stands until the stream is made again. Not
				// when that record was deleted (nats stream rmm) and
				// the first after it was found: once the stream is
				// purged up to that one, it starts right after the
				// checkpoint, which it then continues. Remembered
				// (until 2026-12-07), such a checkpoint was left for
				// ever, named at every trim for an operator to delete
				// (TestTrimJudgesAgainCheckpointWhoseRecordWasDeleted).
				verdicts.remember(c)
			}
			// Past the stream's last record: not continued yet (the
			// stream may reach it), judged again at the next trim.
		}
		switch {
		case !continued:
			left = append(left, strconv.FormatUint(uint64(c.lsn), 10))
		case len(kept) < r.cfg.CheckpointsKept:
			kept, purgeAt = append(kept, c.lsn), seq
		default:
			if err := r.ckpts.Delete(ctx, ckptObjectName(c.lsn)); err != nil {
				return fmt.Errorf("replicate: delete checkpoint at LSN %d: %w", c.lsn, err)
			}
		}
	}
	if logf != nil {
		if gaps := tv.newGaps(rd.gaps, info.State.FirstSeq); gaps != "" {
			logf("stream %s lacks the message(s) at sequence %s, deleted inside it (nats stream rmm, or a server that lost them): trim takes them as gone (a stored checkpoint whose record was one of them is not counted among the kept); a follower that has still to apply one cannot follow across the gap: it stops (ErrStreamGap) until its directory is emptied, to be rebuilt from a stored checkpoint past the gap (docs/replication.md)",
				r.cfg.StreamName(), gaps)
		}
	}
	if len(left) > 0 && logf != nil {
		slices.Reverse(left)
		// The first leftLogLSNs only, and how many more: a bucket
		// holding thousands (a restored bucket) made a line of every
		// LSN, once a minute per node.
		names := strings.Join(left[:min(len(left), leftLogLSNs)], ", ")
		if len(left) > leftLogLSNs {
			names += fmt.Sprintf(" and %d more", len(left)-leftLogLSNs)
		}
		logf("checkpoint bucket %s holds %d stored checkpoint(s) that the stream %s does not continue (LSN %s: another history's, or behind the stream's first record): not counted among the %d kept, and not deleted, as they may hold another history's commits; delete them by hand once they are not needed (docs/replication.md)",
			r.cfg.CheckpointBucket(), len(left), r.cfg.StreamName(), names, r.cfg.CheckpointsKept)
	}
	if purgeAt <= headSeq {
		return nil // none kept, nothing below it, or it is the stream's first record's predecessor
	}
	if err := r.stream.Purge(ctx, jetstream.WithPurgeSequence(purgeAt)); err != nil {
		return fmt.Errorf("replicate: trim stream below sequence %d: %w", purgeAt, err)
	}
	return nil
}

// trimRead is one read of trimReader.next: the record at or after a
// sequence (none: there is none).
type trimRead struct {
	seq  uint64
	meta recordMeta
	none bool
}

// trimReader reads the stream's records for one trim: each sequence at
// most once (the searches of the stored checkpoints share their first
// steps), and a sequence whose message is gone (deleted inside the
// stream: `nats stream rmm`) is read as the next record after it, the
// gap noted in gaps. Before, a deleted message failed the read, and the
// trim, at every archive, each failure ending the leader's role.
type trimReader struct {
	r     *resources
	reads map[uint64]trimRead
	gaps  [][2]uint64 // the sequences found missing, first and last of each run
}

// next returns the stream's first record at or after sequence seq and
// its sequence (ok false: none).
func (t *trimReader) next(ctx context.Context, seq uint64) (uint64, recordMeta, bool, error) {
	if rd, ok := t.reads[seq]; ok {
		return rd.seq, rd.meta, !rd.none, nil
	}
	cctx, cancel := t.r.call(ctx)
	m, err := t.r.stream.GetMsg(cctx, seq, jetstream.WithGetMsgSubject(t.r.cfg.Subject()))
	cancel()
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		t.reads[seq] = trimRead{none: true}
		return 0, recordMeta{}, false, nil
	}
	if err != nil {
		return 0, recordMeta{}, false, fmt.Errorf("%w: read stream sequence %d: %w", ErrStreamUnavailable, seq, err)
	}
	meta, err := parseHeaders(m.Header)
	if err != nil {
		return 0, meta, false, fmt.Errorf("stream sequence %d: %w", m.Sequence, err)
	}
	if m.Sequence > seq {
		// Sequences seq..m.Sequence-1 are gone. Runs are told apart
		// by their last sequence (the one before a record that is
		// there); a read from further back extends one.
		i := slices.IndexFunc(t.gaps, func(g [2]uint64) bool { return g[1] == m.Sequence-1 })
		if i < 0 {
			t.gaps = append(t.gaps, [2]uint64{seq, m.Sequence - 1})
		} else {
			t.gaps[i][0] = min(t.gaps[i][0], seq)
		}
	}
	t.reads[seq] = trimRead{seq: m.Sequence, meta: meta}
	return m.Sequence, meta, true, nil
}

// last returns the stream's last record and its sequence (ok false:
// none).
func (t *trimReader) last(ctx context.Context) (uint64, recordMeta, bool, error) {
	cctx, cancel := t.r.call(ctx)
	m, err := t.r.stream.GetLastMsgForSubject(cctx, t.r.cfg.Subject())
	cancel()
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, recordMeta{}, false, nil // emptied since
	}
	if err != nil {
		return 0, recordMeta{}, false, fmt.Errorf("%w: read the stream's last record: %w", ErrStreamUnavailable, err)
	}
	meta, err := parseHeaders(m.Header)
	if err != nil {
		return 0, meta, false, fmt.Errorf("stream sequence %d: %w", m.Sequence, err)
	}
	return m.Sequence, meta, true, nil
}

// find returns the first record in sequences lo..hi whose last LSN is lsn
// or more, and its sequence (found false: none), passing over the
// sequences whose messages are gone.
func (t *trimReader) find(ctx context.Context, lsn mmsb.LSN, lo, hi uint64) (uint64, recordMeta, bool, error) {
	var bestSeq uint64
	var best recordMeta
	found := false
	for lo <= hi {
		mid := lo + (hi-lo)/2
		s, meta, ok, err := t.next(ctx, mid)
		switch {
		case err != nil:
			return 0, meta, false, err
		case !ok || s > hi:
			// Nothing in mid..hi.
		case meta.Last < lsn:
			lo = s + 1
			continue
		default:
			// A candidate; nothing lies in mid..s-1, so a better
			// one lies before mid.
			bestSeq, best, found = s, meta, true
		}
		if mid == 0 {
			break
		}
		hi = mid - 1
	}
	return bestSeq, best, found, nil
}

// trimVerdicts remembers, per node, the stored checkpoints that a trim
// found the stream does not continue for good (behind its first record,
// or a record holding the checkpoint's LSN that does not end there or has
// another state hash), so that later trims of the same stream judge each
// only once, and the deleted messages already said.
type trimVerdicts struct {
	mu      sync.Mutex
	created time.Time
	left    map[ckptKey]bool
	said    map[uint64]bool // the last sequence of each run of deleted messages logged
}

// ckptKey is what identifies a stored checkpoint's verdict: its object
// (name and NUID: another Put under the name is another object) and the
// hash key that it was judged by.
type ckptKey struct {
	lsn     mmsb.LSN
	nuid    string
	hash    uint64
	hasHash bool
	badHash string
}

func (c storedCheckpoint) key() ckptKey {
	return ckptKey{lsn: c.lsn, nuid: c.nuid, hash: c.hash, hasHash: c.hasHash, badHash: c.badHash}
}

// verdictSet is the view of trimVerdicts one trim uses.
type verdictSet struct{ v *trimVerdicts }

// forStream returns the verdicts for the stream made at created, dropping
// those of another stream (made again: its records are others) and of
// objects no longer stored.
func (v *trimVerdicts) forStream(created time.Time, stored []storedCheckpoint) verdictSet {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.created.Equal(created) || v.left == nil {
		v.created, v.left, v.said = created, map[ckptKey]bool{}, map[uint64]bool{}
	}
	keep := make(map[ckptKey]bool, len(stored))
	for _, c := range stored {
		keep[c.key()] = true
	}
	maps.DeleteFunc(v.left, func(k ckptKey, _ bool) bool { return !keep[k] })
	return verdictSet{v}
}

func (s verdictSet) left(c storedCheckpoint) bool {
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	return s.v.left[c.key()]
}

func (s verdictSet) remember(c storedCheckpoint) {
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	s.v.left[c.key()] = true
}

// newGaps returns the runs of deleted messages in gaps not said before,
// as "5, 9..11" ("" when none), and remembers them; runs below first (the
// stream's first sequence: purged since) are forgotten.
func (v *trimVerdicts) newGaps(gaps [][2]uint64, first uint64) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.said == nil {
		v.said = map[uint64]bool{}
	}
	maps.DeleteFunc(v.said, func(seq uint64, _ bool) bool { return seq < first })
	slices.SortFunc(gaps, func(a, b [2]uint64) int { return cmp.Compare(a[0], b[0]) })
	var out []string
	for _, g := range gaps {
		if v.said[g[1]] {
			continue
		}
		v.said[g[1]] = true
		if g[0] == g[1] {
			out = append(out, strconv.FormatUint(g[0], 10))
		} else {
			out = append(out, fmt.Sprintf("%d..%d", g[0], g[1]))
		}
	}
	return strings.Join(out, ", ")
}

// bootstrap prepares an empty bus directory from the newest stored
// checkpoint that is whole, trying every stored one newest first
// (bootstrapFrom). It reports the checkpoint's LSN (0: none stored).
func bootstrap(ctx context.Context, r *resources, dir string) (mmsb.LSN, error) {
	lsns, err := r.checkpointObjects(ctx)
	if err != nil || len(lsns) == 0 {
		return 0, err
	}
	slices.Reverse(lsns)
	return bootstrapFrom(ctx, r, dir, lsns, nil)
}

// bootstrapFrom prepares an empty bus directory from the first of the
// stored checkpoints at lsns (newest first: those reachesStream found the
// stream continues) that downloads whole and reads as a checkpoint at its
// LSN: it is written to dir/checkpoints, where Open loads it. It reports
// that checkpoint's LSN (0: lsns is empty).
//
// A damaged one (it does not read as a checkpoint, the object store's
// digest does not match its bytes, or it was deleted since the listing)
// is skipped, with a line to logf (nil: none) naming it and why, for the
// next older one: the stream continues that one too, so the follower
// reaches the same state. Before, the newest was the only one tried: a
// damaged newest checkpoint was downloaded, failed to load and was
// removed at every cycle, the follower stuck until the leader stored a
// newer one, though an older kept checkpoint was whole. One whose
// metadata shows it of another history (foreignByHash) is skipped the
// same way, before its download. When every one is skipped the error,
// ErrNeedBootstrap, names each and why.
func bootstrapFrom(ctx context.Context, r *resources, dir string, lsns []mmsb.LSN, logf func(format string, args ...any)) (mmsb.LSN, error) {
	if len(lsns) == 0 {
		return 0, nil
	}
	// An empty log first: a checkpoint without wal/ is a directory whose
	// log was removed, which Open refuses (an empty wal/ is not state, to
	// hasState, should the download not finish).
	if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o755); err != nil {
		return 0, fmt.Errorf("replicate: bootstrap: %w", err)
	}
	ckDir := filepath.Join(dir, "checkpoints")
	if err := os.MkdirAll(ckDir, 0o755); err != nil {
		return 0, fmt.Errorf("replicate: bootstrap: %w", err)
	}
	// A bootstrap killed mid-download (no deferred removal then) left
	// its part: hasState ignores it, and it goes here, before the next.
	// One that cannot be removed (a directory holding files under such
	// a name) is said and passed over: the download writes under
	// another name then (downloadTemp). Before, it failed every
	// bootstrap, for ever, the follower stuck at LSN 0.
	if err := checkpoint.RemoveTemp(nil, ckDir); err != nil && logf != nil {
		logf("bootstrap: %v (passed over: remove it by hand)", err)
	}
	if err := syncFile(dir); err != nil {
		return 0, err
	}
	// The listing for foreignByHash's metadata; one that fails leaves
	// every checkpoint to the full checks.
	stored, _ := r.storedCheckpoints(ctx)
	var skipped []string
	for i, lsn := range lsns {
		err := r.foreignByHash(ctx, lsn, stored)
		if err == nil {
			err = downloadCheckpoint(ctx, r, ckDir, lsn)
		}
		if err == nil {
			return lsn, syncFile(ckDir)
		}
		if !errors.As(err, new(damagedCheckpoint)) {
			return 0, err
		}
		skipped = append(skipped, err.Error())
		if logf != nil {
			next := "no older stored checkpoint that the stream continues is left"
			if i+1 < len(lsns) {
				next = fmt.Sprintf("trying the one at LSN %d", lsns[i+1])
			}
			logf("bootstrap: skipped %v; %s", err, next)
		}
	}
	return 0, fmt.Errorf("%w: no stored checkpoint that the stream continues is whole (%s): the leader must store a new one",
		ErrNeedBootstrap, strings.Join(skipped, "; "))
}

// damagedCheckpoint is downloadCheckpoint's error for a stored
// checkpoint that bootstrapFrom skips: its bytes are not a whole
// checkpoint at its LSN, or it is gone; and foreignByHash's, for one
// whose metadata shows it of another history.
type damagedCheckpoint struct{ err error }

func (d damagedCheckpoint) Error() string { return d.err.Error() }
func (d damagedCheckpoint) Unwrap() error { return d.err }

// downloadCheckpoint downloads the stored checkpoint at lsn into ckDir,
// checks that it is a whole checkpoint at that LSN (every frame and the
// trailer) and renames it into place, through vfs.ReplaceFile: the
// temporary file is synced before the rename and the directory after it,
// and whatever is at the temporary name is removed first (jetstream's
// GetFile then writes the new file ReplaceFile made there). Before,
// GetFile opened the temporary name as it found it: a symbolic link
// there was written through, and then renamed into place as the
// checkpoint, a link to a file outside the bus
// (TestDownloadCheckpointReplacesSafely). An object that is damaged or
// gone is a damagedCheckpoint, naming it and why; nothing is left in
// ckDir then, nor after any other failure.
func downloadCheckpoint(ctx context.Context, r *resources, ckDir string, lsn mmsb.LSN) error {
	final := filepath.Join(ckDir, ckptFileName(lsn))
	tmp, err := downloadTemp(ckDir, lsn)
	if err != nil {
		return err
	}
	object := fmt.Sprintf("the stored checkpoint at LSN %d (object %s in %s)", lsn, ckptObjectName(lsn), r.cfg.CheckpointBucket())
	// failed is the error write reports as it is (ReplaceFile would
	// prefix the temporary file's name to it); ReplaceFile removes the
	// temporary file after it. A download cut short (the server gone, a
	// timeout, a digest mismatch) left its part behind before: the
	// directory then looked like a bus (hasState), so the next attempt
	// opened an empty one instead of bootstrapping, and set it aside as
	// diverged.
	var failed error
	_, err = vfs.ReplaceFile(vfs.Default, final, tmp, func(vfs.File) error {
		// GetFile writes by name the file ReplaceFile just made there
		// (a new, regular one): its fsync, through ReplaceFile's handle
		// of the same file, covers what GetFile wrote.
		if err := r.ckpts.GetFile(ctx, ckptObjectName(lsn), tmp); err != nil {
			if errors.Is(err, jetstream.ErrDigestMismatch) || errors.Is(err, jetstream.ErrObjectNotFound) {
				failed = damagedCheckpoint{fmt.Errorf("%s: %w", object, err)}
			} else {
				failed = fmt.Errorf("replicate: download checkpoint at LSN %d: %w", lsn, err)
			}
			return failed
		}
		if err := verifyCheckpoint(tmp, lsn); errors.Is(err, mmsb.ErrCorruption) {
			failed = damagedCheckpoint{fmt.Errorf("%s does not load: %w", object, err)}
		} else if err != nil {
			// Not the object's fault (the local file could not be
			// read): the next cycle tries it again.
			failed = fmt.Errorf("replicate: check the downloaded checkpoint at LSN %d: %w", lsn, err)
		}
		return failed
	})
	if failed != nil {
		return failed
	}
	if err != nil {
		return fmt.Errorf("replicate: bootstrap: %w", err)
	}
	return nil
}

// downloadTemp returns the temporary name in ckDir that the download of
// the checkpoint at lsn writes under: <final name>.tmp, or, when that
// holds a directory that cannot be removed (one holding files: ReplaceFile
// removes an empty one), checkpoint-<LSN, 20 digits>.alt.ckpt.tmp, the
// second name checkpoint.Create takes in that case. Both end in .tmp:
// hasState ignores them and bootstrapFrom removes what a crash left
// there. When both hold such a directory the error names them. Before,
// one directory under the first name failed every download of that
// checkpoint ("remove …: directory not empty"), for ever.
func downloadTemp(ckDir string, lsn mmsb.LSN) (string, error) {
	first := filepath.Join(ckDir, ckptFileName(lsn)+".tmp")
	alt := filepath.Join(ckDir, strings.TrimSuffix(ckptFileName(lsn), ".ckpt")+".alt.ckpt.tmp")
	for _, tmp := range []string{first, alt} {
		st, err := os.Lstat(tmp)
		if err != nil || !st.IsDir() {
			return tmp, nil // nothing there, or what ReplaceFile removes
		}
		if err := os.Remove(tmp); err == nil || os.IsNotExist(err) {
			return tmp, nil
		}
	}
	return "", fmt.Errorf("replicate: download checkpoint at LSN %d: %s and %s each hold a directory that is not empty: %w (remove them by hand)",
		lsn, first, alt, syscall.EISDIR)
}

// verifyCheckpoint checks that the file at path is a whole checkpoint at
// lsn: its header, every frame's and the trailer's checksums. What it
// finds wrong is mmsb.ErrCorruption; other errors are the reads'.
func verifyCheckpoint(path string, lsn mmsb.LSN) error {
	cr, err := checkpoint.Open(nil, path)
	if err != nil {
		return err
	}
	defer func() { _ = cr.Close() }() // read only: nothing to lose
	if got := mmsb.LSN(cr.LSN()); got != lsn {
		return fmt.Errorf("%w: its header says LSN %d", mmsb.ErrCorruption, got)
	}
	for {
		if _, _, err := cr.Next(); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// reachesStream returns the stored checkpoints that the stream continues,
// newest first (none stored: nil), the ones bootstrapFrom may start from:
// when the stream is empty only the newest (an older one is behind the
// stored state, and nothing holds the records after it), otherwise each
// at or after the LSN before the stream's first record. When none does
// it returns ErrNeedBootstrap naming the LSNs that are in neither and why
// they may be gone: the stream's limits when it has any (MaxAge, MaxMsgs,
// MaxBytes: an operator's, MMSB sets none), else a deleted checkpoint or
// a purge. A follower cannot start from the stored state until the leader
// stores a checkpoint that reaches the stream: the node retries
// meanwhile.
//
// fromStart reports that the stream holds its records from LSN 1: an
// empty bus reaches it too, so a follower needs no stored checkpoint
// (Node.openFollower follows it from there when every one is damaged).
//
// Node.openFollower calls it before a bootstrap, which then writes
// nothing. Without it, such a directory was built, found "behind the
// stream" by the position check, emptied and built again every
// LeaseTTL/4, downloading the whole checkpoint each time, with a line
// that said only where the stream starts.
//
// The leader may store a newer checkpoint and trim the stream below it
// between the listing and the read of the stream's first record: a gap
// found is looked at again, with a new listing, before it is reported,
// and so is a first record gone when it is read (ErrStreamUnavailable,
// naming its sequence, once it is gone 8 times in a row).
func (r *resources) reachesStream(ctx context.Context) (reach []mmsb.LSN, fromStart bool, err error) {
	f := &Follower{res: r, metrics: &Metrics{}}
	for attempt := 1; ; attempt++ {
		lsns, err := r.checkpointObjects(ctx)
		if err != nil {
			return nil, false, err
		}
		slices.Reverse(lsns) // newest first
		lsn := mmsb.LSN(0)
		if len(lsns) > 0 {
			lsn = lsns[0]
		}
		ictx, cancel := r.call(ctx)
		info, err := r.stream.Info(ictx)
		cancel()
		if err != nil {
			return nil, false, fmt.Errorf("%w: stream info: %w", ErrStreamUnavailable, err)
		}
		if info.State.Msgs == 0 {
			return lsns[:min(len(lsns), 1)], false, nil
		}
		head, err := f.getMsg(ctx, info.State.FirstSeq)
		if errors.Is(err, jetstream.ErrMsgNotFound) && attempt < 8 {
			continue // trimmed between the stream's info and the read
		}
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, false, fmt.Errorf("%w: the stream's first record, sequence %d by its info, was gone at each of %d reads (trimmed each time between the info and the read): %w",
				ErrStreamUnavailable, info.State.FirstSeq, attempt, jetstream.ErrMsgNotFound)
		}
		if err != nil {
			return nil, false, err
		}
		// head.First-1, not lsn+1: a stored checkpoint's LSN may be
		// 2^64−1 (a junk object's name), and lsn+1 wrapped to 0 then,
		// so that every new follower was told ErrNeedBootstrap ("LSN
		// 0..0 are in neither") by that one object. head.First is 1 or
		// more (parseHeaders).
		if head.First-1 <= lsn {
			for _, l := range lsns {
				if head.First-1 <= l {
					reach = append(reach, l)
				}
			}
			return reach, head.First == 1, nil
		}
		if attempt < 3 {
			continue
		}
		stored := fmt.Sprintf("the newest stored checkpoint is at LSN %d", lsn)
		if lsn == 0 {
			stored = "no checkpoint is stored"
		}
		why := "a stored checkpoint deleted, or the stream purged, outside MMSB"
		if limits := streamLimits(info.Config); limits != "" {
			why = fmt.Sprintf("the stream %s drops records by its limits, %s (MMSB sets none)", r.cfg.StreamName(), limits)
		}
		return nil, false, fmt.Errorf("%w: %s and the stream's first record starts at LSN %d: LSN %d..%d are in neither (%s); a follower can start from the stored state only once the leader stores a checkpoint at LSN %d or later",
			ErrNeedBootstrap, stored, head.First, lsn+1, head.First-1, why, head.First-1)
	}
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("replicate: sync %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("replicate: sync %s: %w", path, err)
	}
	return f.Close()
}

// hasState reports whether dir holds a bus (log segments or checkpoints).
// A temporary file (*.tmp) is not state: a checkpoint, written or
// downloaded, is renamed into place only once whole. One that a hard kill
// left during a bootstrap made the directory count as a bus: the next
// start opened an empty one, found it "not a prefix" of the trimmed
// stream and set the directory aside before bootstrapping again.
//
// Nor is what every Open with a log leaves in a bus that holds nothing: a
// log segment holding no record (its header only; the bus keeps one,
// tlog.Options.KeepSegment), wal/newest-segment (tlog.NewestFileName)
// and checkpoints/log-mode. A replica that
// opened its bus on an empty stream and applied nothing counted as a bus:
// restarted on a stream emptied past a stored checkpoint it stayed at
// LSN 0, and on a trimmed one it was set aside before bootstrapping. A
// bootstrap writes its checkpoint beside them, and Open drops such a
// segment that does not continue the checkpoint.
func hasState(dir string) bool { return hasStateBesides(dir, "") }

// lostBusFiles returns, for a directory whose bus's files were lost in
// part, an error wrapping mmsb.ErrCorruption that says what was lost
// (lost); nil when nothing known was. err is a failure to look. Open
// refuses such a directory (unless Options.Repair accepts the loss):
//   - its checkpoints/ holds a checkpoint, and wal/ is missing, or holds
//     no segment where checkpoints/log-mode says a log continues the
//     checkpoints (tlog.CheckRemoved): the log was removed, and with it
//     every operation committed after the newest checkpoint;
//   - with no checkpoint, and no other state (hasState, which does not
//     count what is left), the log-mode file says a log holds the bus's
//     history and wal/ holds no segment: every operation the bus
//     committed was lost;
//   - the log-mode file does not decode (tlog.ErrBadMode).
//
// Every Open with a log keeps a segment, so these were removed: by hand,
// by a bad disk, or by a crash while setAside moved the directory's
// parts (wal/ first). openFollower sets such a directory aside before it
// bootstraps. A failure to list or reach what is there is left to Open
// to report.
func lostBusFiles(dir string) (lost, err error) {
	walDir, ckDir := filepath.Join(dir, "wal"), filepath.Join(dir, "checkpoints")
	ckpts, _, err := checkpoint.ListFiles(vfs.Default, ckDir)
	if err != nil {
		return nil, nil // Open reports it
	}
	if len(ckpts) > 0 {
		removed, _, err := tlog.CheckRemoved(vfs.Default, walDir, ckDir)
		switch {
		case errors.Is(err, tlog.ErrBadMode):
			return fmt.Errorf("%w: %w", mmsb.ErrCorruption, err), nil
		case err != nil || removed == tlog.NotRemoved:
			return nil, nil // there, or out of reach: Open reports it
		case removed == tlog.DirRemoved:
			return fmt.Errorf("%w: %s holds checkpoints but %s is missing: the log was removed, and with it every operation committed after the newest checkpoint that the stream lacks",
				mmsb.ErrCorruption, ckDir, walDir), nil
		}
		return fmt.Errorf("%w: %s says a log continues the checkpoints in %s, but %s holds no log segment: the log was removed, and with it every operation committed after the newest checkpoint that the stream lacks",
			mmsb.ErrCorruption, filepath.Join(ckDir, tlog.ModeFileName), ckDir, walDir), nil
	}
	if hasState(dir) {
		return nil, nil // a log: its Open checks it
	}
	// The bus's Open judges this case with the same function.
	filesLost, err := tlog.FilesLost(vfs.Default, walDir, ckDir)
	if errors.Is(err, tlog.ErrBadMode) {
		return fmt.Errorf("%w: %w", mmsb.ErrCorruption, err), nil
	}
	if err != nil {
		return nil, fmt.Errorf("replicate: %w", err) // a dangling wal/ link: out of reach, not lost
	}
	if !filesLost {
		return nil, nil // no mode file (a directory no bus ran in), no log, or a segment
	}
	return fmt.Errorf("%w: %s says a log holds the bus's history, but %s holds no log segment and %s no checkpoint: the bus's files were lost, and with them every operation committed there that the stream and its stored checkpoints lack",
		mmsb.ErrCorruption, filepath.Join(ckDir, tlog.ModeFileName), walDir, ckDir), nil
}

// ckptFileName is the name in checkpoints/ of the checkpoint at lsn, as
// bootstrap writes it.
func ckptFileName(lsn mmsb.LSN) string { return fmt.Sprintf("checkpoint-%020d.ckpt", lsn) }

// hasStateBesides is hasState ignoring also the file named keep in
// checkpoints/ ("": none): whether a directory rebuilt from that stored
// checkpoint holds anything else.
func hasStateBesides(dir, keep string) bool {
	for _, sub := range []string{"wal", "checkpoints"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			continue
		}
		for _, e := range ents {
			name := e.Name()
			switch {
			case strings.HasSuffix(name, ".tmp"):
			case sub == "checkpoints" && (name == tlog.ModeFileName || keep != "" && name == keep):
			case sub == "wal" && (emptySegment(e) || name == tlog.NewestFileName):
			default:
				return true
			}
		}
	}
	return false
}

// emptySegment reports whether the wal/ entry e is a log segment holding
// no record: no more than its header.
func emptySegment(e os.DirEntry) bool {
	if _, ok := tlog.ParseSegmentName(e.Name()); !ok || !e.Type().IsRegular() {
		return false
	}
	info, err := e.Info()
	return err == nil && info.Size() <= tlog.SegmentHeaderSize
}

// foreignByHash returns, for the stored checkpoint at lsn, a
// damagedCheckpoint saying why it is of another history when its
// metadata's state hash (ckptHashKey, in stored: storedCheckpoints'
// listing) is not the one the stream's record ending at lsn carries; nil
// otherwise. bootstrapFrom skips such a checkpoint without downloading
// it. Before, a follower downloaded it in full (possibly GiB) only for
// the position check to find it foreign, at every bootstrap.
//
// The metadata is a hint, not proof: a checkpoint without the key (one
// stored before it), with one that does not parse, or whose record the
// stream does not hold (trimmed, or the checkpoint is right before the
// stream's first record), or when the stream cannot be read, is not
// judged here (nil); the download's checks and the position check after
// it decide, for those and for every one not skipped.
func (r *resources) foreignByHash(ctx context.Context, lsn mmsb.LSN, stored []storedCheckpoint) error {
	i := slices.IndexFunc(stored, func(c storedCheckpoint) bool { return c.lsn == lsn })
	if i < 0 || !stored[i].hasHash {
		return nil
	}
	rec, ok, err := r.recordEndingAt(ctx, lsn)
	if err != nil || !ok || rec.Hash == stored[i].hash {
		return nil
	}
	return damagedCheckpoint{fmt.Errorf("the stored checkpoint at LSN %d (object %s in %s) without downloading it: its metadata names state hash %016x, the stream %s's record ending at LSN %d carries %016x: it belongs to another history",
		lsn, ckptObjectName(lsn), r.cfg.CheckpointBucket(), stored[i].hash, r.cfg.StreamName(), lsn, rec.Hash)}
}
