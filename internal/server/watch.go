package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/logquery"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// Watch follows etcd's contract (docs/server.md, "The watch contract"):
// every durable change from from_lsn on, in LSN order, no gap and no
// duplicate; progress messages; a compacted error when the log no longer
// holds from_lsn; a resumable Unavailable error at shutdown.
//
// The hub follows the log (Bus.WaitLSN, then Bus.QueryLog) and fans each
// step out to the synced watchers through bounded queues. A watcher that
// starts behind, or whose queue overflows (it is then demoted, never
// waited for), reads the log by itself until it reaches the hub's cursor,
// then rejoins: a slow watcher never blocks commits or the other watchers
// and never loses a change.

// Metadata keys set on Watch errors, for clients that do not decode
// error details.
const (
	// OldestLSNKey carries the oldest LSN still in the log on a compacted
	// error (code OutOfRange).
	OldestLSNKey = "Mmsb-Oldest-Lsn"
	// LastLSNKey carries the last LSN delivered on a shutdown error (code
	// Unavailable): resume from it + 1.
	LastLSNKey = "Mmsb-Last-Lsn"
	// ProgressMsKey, a response header of every Watch stream, is the
	// stream's progress interval in milliseconds: the server promises a
	// message at least that often, while synced and while catching up,
	// so that a client can take a longer silence for a dead connection
	// (client.WatchOptions.SilenceTimeout). A server without it (before
	// 2026-12-06) sent nothing while a filtered watch caught up.
	ProgressMsKey = "Mmsb-Progress-Ms"
	// BusyKey, on a resource_exhausted refusal by one of the server's
	// bounds on work in flight (--max-requests, --max-requests-per-client,
	// the probe reserve, the answer bytes, --max-watchers,
	// --max-log-queries), names the
	// bound: the refusal passes once other calls end, so a client may
	// retry it later (the Go client's errors wrap client.ErrServerBusy,
	// and its Watch retries them). A message or batch too large, refused
	// with the same code, carries none: retrying it cannot succeed.
	BusyKey = "Mmsb-Busy"
)

// hubStep bounds the operations the hub (or a catching-up watcher) reads
// from the log in one step, so that a burst of commits costs bounded memory.
const hubStep = 16384

// chunkChanges bounds the changes in one WatchResponse.
const chunkChanges = 512

// stepBytes bounds the delta data of one step beyond its last operation.
// A step is held in memory whole (by the hub, or by a catching-up
// watcher) and its changes are sent in messages of at most chunkChanges,
// so this also bounds a message: counting operations alone, 512 deltas
// of 1 MiB made one 512 MiB message, and past 4 GiB a message cannot be
// framed at all (TestWatchMessageSize).
const stepBytes = 4 << 20

type watcher struct {
	pages  []uint64    // sorted, no duplicates
	ranges []pageRange // sorted, disjoint
	all    bool
	queue  chan queued // owned by the hub: created at join, closed and emptied at demotion
	seq    uint64      // the hub's number for the next step queued (0 at join)
}

// queued is one step's changes for one watcher. The hub numbers them so
// that the watcher can tell when the hub emptied its queue at demotion
// (while the watcher may be receiving from it too): a step out of
// sequence means the ones before it were dropped.
type queued struct {
	seq     uint64
	changes []*mmsbv1.Change
}

func (w *watcher) wants(p mmsb.PageID) bool {
	if w.all {
		return true
	}
	if _, ok := slices.BinarySearch(w.pages, uint64(p)); ok {
		return true
	}
	i, _ := slices.BinarySearchFunc(w.ranges, uint64(p), func(r pageRange, p uint64) int { return cmp.Compare(r.last, p) })
	return i < len(w.ranges) && w.ranges[i].first <= uint64(p)
}

// tracked is the page selection an epoch tracker follows for w: nil
// (every page) for a watch on all of them.
func (w *watcher) tracked() func(mmsb.PageID) bool {
	if w.all {
		return nil
	}
	return w.wants
}

// pageRange is an inclusive range of page IDs.
type pageRange struct{ first, last uint64 }

// mergeRanges sorts rs and merges those that overlap or touch, so that a
// page is looked up in O(log n) however many ranges a watch names (the hub
// filters under its lock, for every watcher).
func mergeRanges(rs []*mmsbv1.PageRange) []pageRange {
	out := make([]pageRange, 0, len(rs))
	for _, r := range rs {
		out = append(out, pageRange{r.GetFirst(), r.GetLast()})
	}
	slices.SortFunc(out, func(a, b pageRange) int { return cmp.Compare(a.first, b.first) })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && (r.first <= merged[n-1].last || r.first-1 == merged[n-1].last) {
			merged[n-1].last = max(merged[n-1].last, r.last)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func (w *watcher) filter(cs []*mmsbv1.Change, after mmsb.LSN) []*mmsbv1.Change {
	if w.all && (len(cs) == 0 || mmsb.LSN(cs[0].GetLsn()) > after) {
		return cs // shared, read-only
	}
	var out []*mmsbv1.Change
	for _, c := range cs {
		if mmsb.LSN(c.GetLsn()) > after && w.wants(mmsb.PageID(c.GetPage())) {
			out = append(out, c)
		}
	}
	return out
}

type hub struct {
	s    *Server
	qcap int

	mu     sync.Mutex
	cursor mmsb.LSN // every durable operation up to cursor has been fanned out
	synced map[*watcher]struct{}
	// nsynced and pending are kept as the watchers join, leave and are
	// demoted, and as steps are queued and received: len(synced), and
	// the steps in the synced watchers' queues. A /metrics scrape reads
	// them without the lock; it once walked every synced watcher under
	// it, stalling the fan-out, joins and progress messages for the walk
	// (0.6 ms at 10,000 watchers, 0.3 s at the 2^20 that --max-watchers
	// allows): TestWatchStatsWithoutHubLock. pending may run ahead of
	// the queues by the steps being sent or just received, never behind.
	nsynced atomic.Int64
	pending atomic.Int64
	stopped bool
	// failErr is the bus error that stopped the hub (nil after stop): the
	// watches it ends name it rather than a shutdown that never happened.
	failErr error
	// active counts open watches; with none the hub idles (no wake-up per
	// commit) and refuses joins until it has moved its cursor to the
	// durable end of the log again.
	active int
	idle   bool
	wake   chan struct{}
	// fannedOut, set by tests only (export_test.go, under mu), sees each
	// step fanOutLocked is given.
	fannedOut func(changes []*mmsbv1.Change)

	// epochs follows page epochs along the steps the hub reads; epochsAt
	// is its position (steps read with no synced watcher are skipped, and
	// a tracker behind the cursor is rebuilt). Only the hub goroutine
	// touches them.
	epochs   *epochTracker
	epochsAt mmsb.LSN

	stopCh chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
}

func newHub(s *Server, qcap int) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	h := &hub{s: s, qcap: qcap, synced: map[*watcher]struct{}{}, stopCh: make(chan struct{}),
		ctx: ctx, cancel: cancel, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	// Start at the durable end of the log: watchers behind it catch up
	// from the log by themselves.
	last := s.bus.LastLSN()
	if err := s.bus.WaitDurable(ctx, last); err == nil {
		h.cursor = last
	}
	return h
}

func (h *hub) stop() {
	h.mu.Lock()
	if !h.stopped {
		h.stopped = true
		close(h.stopCh)
		h.cancel()
	}
	h.mu.Unlock()
	<-h.done
}

func (h *hub) run() {
	defer close(h.done)
	for {
		h.mu.Lock()
		if h.active == 0 && len(h.synced) == 0 {
			h.idle = true
			h.mu.Unlock()
			select {
			case <-h.wake:
			case <-h.ctx.Done():
				return
			}
			last := h.s.bus.LastLSN()
			if err := h.s.bus.WaitDurable(h.ctx, last); err != nil {
				h.fail(err)
				return
			}
			h.mu.Lock()
			h.cursor = max(h.cursor, last)
			h.idle = false
			h.mu.Unlock()
			continue
		}
		cursor := h.cursor
		h.mu.Unlock()
		last, err := h.s.bus.WaitLSN(h.ctx, cursor)
		if err != nil {
			h.fail(err)
			return
		}
		last = min(last, cursor+hubStep)
		var changes []*mmsbv1.Change
		read := false
		for {
			h.mu.Lock()
			if len(h.synced) > 0 && !read {
				// Read outside the lock; joins meanwhile are at cursor, which
				// has not moved, so they get this step too.
				h.mu.Unlock()
				var end mmsb.LSN
				changes, end, err = readChanges(h.ctx, h.s.bus, cursor+1, last)
				if err == nil {
					last = end // the step may stop early (stepBytes)
					h.assignEpochs(changes, cursor, last)
				}
				if err != nil {
					if h.ctx.Err() != nil {
						return
					}
					h.s.log.Error("watch hub: reading the log", "from_lsn", cursor+1, "err", err)
					// Demote everyone: they re-read the log themselves
					// and report the failure to their clients. The cursor
					// moves past the step under the same lock, so that no
					// watcher joins at the old cursor and is then skipped
					// past a step it never got.
					h.mu.Lock()
					for w := range h.synced {
						h.demoteLocked(w)
					}
					h.cursor = last
					h.mu.Unlock()
					break
				}
				read = true
				continue
			}
			h.fanOutLocked(changes, cursor)
			h.cursor = last
			h.mu.Unlock()
			break
		}
	}
}

// fanOutLocked queues the step read after cursor to each synced watcher
// that wants some of it, demoting those whose queue is full. It counts
// each step queued in pending before sending it (the watcher counts it
// out once it has received it), so that pending never falls below the
// steps actually queued.
func (h *hub) fanOutLocked(changes []*mmsbv1.Change, cursor mmsb.LSN) {
	if h.fannedOut != nil {
		h.fannedOut(changes)
	}
	for w := range h.synced {
		sel := w.filter(changes, cursor)
		if len(sel) == 0 {
			continue
		}
		h.pending.Add(1)
		select {
		case w.queue <- queued{w.seq, sel}:
			w.seq++
		default:
			h.pending.Add(-1)
			h.demoteLocked(w)
			h.s.slow.Add(1)
		}
	}
}

// assignEpochs sets the epochs of the step (cursor, last] read by the hub.
// A tracker that cannot be built leaves them 0 (unknown), never wrong.
func (h *hub) assignEpochs(changes []*mmsbv1.Change, cursor, last mmsb.LSN) {
	if h.epochs == nil || h.epochsAt != cursor {
		t, err := h.s.epochTracker(h.ctx, cursor, nil)
		if err != nil {
			h.epochs = nil
			if h.ctx.Err() == nil {
				h.s.log.Warn("watch hub: epochs unknown for this step", "from_lsn", cursor+1, "err", err)
			}
			return
		}
		h.epochs = t
	}
	h.epochs.assign(changes)
	h.epochsAt = last
}

// fail stops the hub after a bus error (not after stop): watches end
// with the resumable error. Closing stopCh is what wakes them: every wait
// of a watch (on its queue, on an idle hub, before joining) selects on it,
// and one reading the log by itself sees the bus error there. h.ctx is
// the hub goroutine's own, and fail runs on that goroutine as it returns,
// so nothing is left waiting on it (TestWatchEndsWhenHubFails); it is
// cancelled all the same, to release it.
func (h *hub) fail(err error) {
	if h.ctx.Err() != nil {
		return
	}
	h.s.log.Warn("watch hub stopped", "err", err)
	h.mu.Lock()
	if !h.stopped {
		h.stopped = true
		h.failErr = err
		close(h.stopCh)
	}
	h.mu.Unlock()
	h.cancel()
}

// endError is the error of a watch ended by the hub stopping, pos the
// last LSN it delivered: resumable either way (the client resumes on the
// code and the Mmsb-Last-Lsn header), but worded after the cause, so that
// an operator reading it after a bus failure does not look for a shutdown.
func (h *hub) endError(pos mmsb.LSN) error {
	h.mu.Lock()
	cause := h.failErr
	h.mu.Unlock()
	if cause == nil {
		return resumeError(pos, errors.New("server shutting down"))
	}
	return resumeError(pos, fmt.Errorf("the server's bus stopped serving watches: %w", cause))
}

// activate registers an open watch and wakes an idle hub.
func (h *hub) activate() {
	h.mu.Lock()
	h.active++
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *hub) deactivate() {
	h.mu.Lock()
	h.active--
	h.mu.Unlock()
}

// demoteLocked drops w from the synced watchers and empties its queue:
// a demoted watcher reads those steps again from the log, and a stalled
// one must not keep a full queue of changes alive for as long as its
// client holds the connection open. The watcher notices the dropped
// steps by the gap in their numbers.
func (h *hub) demoteLocked(w *watcher) {
	delete(h.synced, w)
	h.nsynced.Add(-1)
	close(w.queue)
	var dropped int64
	for range w.queue {
		dropped++
	}
	h.pending.Add(-dropped)
	w.queue = nil
}

// received counts out a step a watcher took from its queue (see pending).
func (h *hub) received() { h.pending.Add(-1) }

// join makes w synced if it has read everything up to the hub's cursor;
// it returns w's queue, or nil when the cursor moved on (read more first).
func (h *hub) join(w *watcher, pos mmsb.LSN) (chan queued, mmsb.LSN) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped || h.idle || pos < h.cursor {
		return nil, h.cursor
	}
	w.queue, w.seq = make(chan queued, h.qcap), 0
	h.synced[w] = struct{}{}
	h.nsynced.Add(1)
	return w.queue, h.cursor
}

// leave drops w, whose watch is ending, from the synced watchers. Its
// queue is emptied as at demotion: the steps left in it are counted out
// of pending, and nothing receives from it any more.
func (h *hub) leave(w *watcher) {
	h.mu.Lock()
	if _, ok := h.synced[w]; ok {
		h.demoteLocked(w)
	}
	h.mu.Unlock()
}

// progress returns the LSN a synced watcher can report: the hub's cursor
// when nothing is queued for it (everything fanned out has been sent).
func (h *hub) progress(w *watcher, q chan queued, pos mmsb.LSN) mmsb.LSN {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.synced[w]; ok && w.queue == q && len(q) == 0 {
		return max(pos, h.cursor)
	}
	return pos
}

// readChanges reads the operations in [from, to] from the log, stopping
// early once their delta data reaches stepBytes; it returns them and the
// LSN of the last one read. It fails with mmsb.ErrLogTruncated when the
// log no longer starts at from.
func readChanges(ctx context.Context, bus *mmsb.Bus, from, to mmsb.LSN) ([]*mmsbv1.Change, mmsb.LSN, error) {
	var out []*mmsbv1.Change
	next := from
	size, full := 0, false
	// A Change carries no parent reads: the bus passes over a derived
	// write's (TestLogReadsSkipParentReads).
	err := bus.QueryLog(logquery.WithoutParentReads(ctx), mmsb.LogQuery{FromLSN: from, ToLSN: to}, func(lo *mmsb.LoggedOp) bool {
		if lo.LSN != next {
			return false
		}
		next++
		c := &mmsbv1.Change{Lsn: uint64(lo.LSN), Page: uint64(wire.OpPage(lo.Op)), Kind: lo.Op.Kind.String(), Time: lo.Time}
		if lo.Op.Kind == mmsb.OpDelta || lo.Op.Kind == mmsb.OpDerived {
			c.Delta = wire.DeltaToProto(&lo.Op.Delta)
			size += deltaBytes(&lo.Op.Delta)
		}
		out = append(out, c)
		full = size >= stepBytes
		return !full
	})
	if err != nil {
		return nil, 0, err
	}
	if next != to+1 && !full {
		return nil, 0, fmt.Errorf("%w: wanted LSN %d, the log starts later", mmsb.ErrLogTruncated, next)
	}
	return out, next - 1, nil
}

// deltaBytes is the size of a delta's variable-length data.
func deltaBytes(d *mmsb.Delta) int {
	n := len(d.Mask) + len(d.Payload) + len(d.Intent) + len(d.Source)
	for _, r := range d.Runs {
		n += len(r.Data)
	}
	return n
}

// compactedError is the OutOfRange error of a watch whose start is gone.
func (s *Server) compactedError(from mmsb.LSN) error {
	s.compacted.Add(1)
	st := s.bus.Stats()
	oldest := st.Log.OldestLSN
	if oldest == 0 {
		oldest = st.LastLSN + 1
	}
	err := busError(connect.CodeOutOfRange, fmt.Errorf("watch: from_lsn %d was compacted; the log starts at LSN %d: read the pages, then watch from the read's LSN + 1", from, oldest), mmsb.ErrLogTruncated)
	if d, derr := connect.NewErrorDetail(&mmsbv1.WatchCompacted{RequestedLsn: uint64(from), OldestLsn: uint64(oldest)}); derr == nil {
		err.AddDetail(d)
	}
	err.Meta().Set(OldestLSNKey, strconv.FormatUint(uint64(oldest), 10))
	return err
}

// noLogWatchError refuses a watch on a bus opened without a log
// (Options.DisableLog): a watch reads its changes from the log, so it
// can follow none, from any LSN. Until 2026-12-07 such a watch answered
// "compacted", from an old LSN at once and from the next LSN at the
// first commit, and the recipe it names (read, then watch from the
// read's LSN + 1) failed the same way each time (TestWatchNoLog).
func noLogWatchError(last mmsb.LSN) error {
	return busError(connect.CodeFailedPrecondition, fmt.Errorf("watch: the bus keeps no log (Options.DisableLog; last LSN %d) and a watch reads its changes from the log: "+
		"serve a bus opened with its log to watch it, or poll its pages", last), mmsb.ErrLogTruncated)
}

// resumeError is the Unavailable error that closes a watch when the hub
// stops (at shutdown, or on a bus error: cause), pos the last LSN delivered.
func resumeError(pos mmsb.LSN, cause error) error {
	err := connect.NewError(connect.CodeUnavailable, fmt.Errorf("%w; resume the watch from LSN %d", cause, pos+1))
	if d, derr := connect.NewErrorDetail(&mmsbv1.Resume{LastLsn: uint64(pos)}); derr == nil {
		err.AddDetail(d)
	}
	err.Meta().Set(LastLSNKey, strconv.FormatUint(uint64(pos), 10))
	return err
}

// newWatcher builds the selection of a watch request: every page when it
// names none, else its pages and ranges.
func newWatcher(m *mmsbv1.WatchRequest) (*watcher, error) {
	w := &watcher{all: len(m.GetPages()) == 0 && len(m.GetRanges()) == 0}
	if n := len(m.GetPages()) + len(m.GetRanges()); n > maxBatch {
		return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("watch: %d pages and ranges, more than %d", n, maxBatch))
	}
	for _, r := range m.GetRanges() {
		if r.GetFirst() > r.GetLast() {
			return nil, invalid("watch: page range [%d, %d] is empty", r.GetFirst(), r.GetLast())
		}
	}
	w.ranges = mergeRanges(m.GetRanges())
	// The request's own slice, sorted in place and searched: a watch holds
	// about what it was sent for as long as it stays open (a set of 2^20
	// pages as a map held 11 times its request: TestWatchPageListMemory).
	pages := m.GetPages()
	slices.Sort(pages)
	w.pages = slices.Compact(pages)
	return w, nil
}

// Watch implements mmsbv1connect.BusServiceHandler.
func (s *Server) Watch(ctx context.Context, req *connect.Request[mmsbv1.WatchRequest], stream *connect.ServerStream[mmsbv1.WatchResponse]) error {
	m := req.Msg
	w, err := newWatcher(m)
	if err != nil {
		return err
	}
	interval := s.progress
	if ms := m.GetProgressMs(); ms > 0 {
		interval = max(time.Duration(ms)*time.Millisecond, 10*time.Millisecond)
	}
	from := mmsb.LSN(m.GetFromLsn()) // 0: resolved below

	// Counted first, then checked: concurrent watches cannot all pass.
	if n := s.watchers.Add(1); n > s.maxWatchers {
		s.watchers.Add(-1)
		return busy(connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("watch: %d watches are open, the most this server allows (Config.MaxWatchers); close one, or watch more pages in one", s.maxWatchers)), "--max-watchers")
	}
	defer s.watchers.Add(-1)
	s.hub.activate()
	defer s.hub.deactivate()
	defer s.hub.leave(w)

	st := s.bus.Stats()
	if st.NoLog {
		return noLogWatchError(st.LastLSN)
	}
	if from == 0 {
		// The start of the log as it is now, as QueryLog's from_lsn 0
		// reads it: on a log a checkpoint had trimmed, 0 was taken for
		// 1 and refused as compacted until 2026-12-07
		// (TestWatchFromZeroCompactedLog). An empty log starts at the
		// next LSN.
		from = st.Log.OldestLSN
		if from == 0 {
			from = st.LastLSN + 1
		}
	}
	pos := from - 1 // the last LSN delivered (or skipped as not wanted)
	if from > st.LastLSN+1 {
		// A start past the next LSN would report progress (from - 1) the
		// bus never reached, and a client resuming against a bus restored
		// from an older backup would wait for ever, told it is up to date.
		// Refused as Read refuses an as_of_lsn after the last LSN.
		if s.follower {
			// A follower behind its leader reaches from in time: the
			// client retries (the Go client's Watch resumes on
			// Unavailable) rather than end its watch.
			err := fmt.Errorf("watch: from_lsn %d is after this follower's last LSN %d: it has not caught up with its leader yet; retry", from, st.LastLSN)
			return busError(connect.CodeUnavailable, err, err)
		}
		err := fmt.Errorf("watch: from_lsn %d is after the bus's last LSN %d (a bus restored from an older backup?): %w", from, st.LastLSN, mmsb.ErrInvalidOption)
		return busError(connect.CodeInvalidArgument, err, err)
	}
	if from <= st.LastLSN && (st.Log.OldestLSN == 0 || from < st.Log.OldestLSN) {
		return s.compactedError(from)
	}
	// Tell the client the stream is up (headers and a first progress), so
	// that it knows the watch was accepted before any change arrives, and
	// how often it will hear from the server at the least.
	stream.ResponseHeader().Set(ProgressMsKey, strconv.FormatInt(interval.Milliseconds(), 10))
	if err := stream.Send(&mmsbv1.WatchResponse{ProgressLsn: uint64(pos)}); err != nil {
		return err
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	send := func(cs []*mmsbv1.Change) error {
		for len(cs) > 0 {
			n := min(len(cs), chunkChanges)
			last := mmsb.LSN(cs[n-1].GetLsn())
			if err := stream.Send(&mmsbv1.WatchResponse{Changes: cs[:n], ProgressLsn: uint64(last)}); err != nil {
				return err
			}
			pos, cs = last, cs[n:]
		}
		return nil
	}
	var q chan queued
	var want uint64 // the number of the next step expected from q
	// While catching up from the log, the watcher follows epochs itself
	// (epochs.go), from position epochsAt.
	var (
		epochs   *epochTracker
		epochsAt mmsb.LSN
	)
	for {
		if q == nil {
			// Unsynced: catch up from the log, then try to join the hub.
			select {
			case <-ctx.Done():
				return toConnect(ctx.Err())
			case <-s.hub.stopCh:
				return s.hub.endError(pos)
			case <-ticker.C:
				// The progress messages go on while catching up: a
				// watch whose pages the stretch of log does not touch
				// sent nothing until it joined the hub, a silence the
				// client could not tell from a dead connection
				// (TestWatchCatchUpSendsProgress).
				if err := stream.Send(&mmsbv1.WatchResponse{ProgressLsn: uint64(pos)}); err != nil {
					return err
				}
			default:
			}
			var cursor mmsb.LSN
			if q, cursor = s.hub.join(w, pos); q != nil {
				want = 0
				epochs = nil // the hub's changes carry epochs
				continue
			}
			to := min(cursor, pos+hubStep)
			if to <= pos {
				// Ahead of an idle hub that is waking up: wait for it.
				t := time.NewTimer(time.Millisecond)
				select {
				case <-ctx.Done():
					t.Stop()
					return toConnect(ctx.Err())
				case <-s.hub.stopCh:
					t.Stop()
					return s.hub.endError(pos)
				case <-t.C:
				}
				continue
			}
			if epochs == nil || epochsAt != pos {
				if epochs, err = s.epochTracker(ctx, pos, w.tracked()); errors.Is(err, mmsb.ErrLogTruncated) {
					return s.compactedError(pos + 1)
				} else if err != nil {
					return toConnect(err)
				}
			}
			cs, end, err := readChanges(ctx, s.bus, pos+1, to)
			if errors.Is(err, mmsb.ErrLogTruncated) {
				return s.compactedError(pos + 1)
			}
			if err != nil {
				return toConnect(err)
			}
			epochs.assign(cs)
			epochsAt = end
			// Parked while sending: a client that stops reading holds up
			// the watch here, and must not hold the base with it.
			epochs.park()
			if err := send(w.filter(cs, pos)); err != nil {
				return err
			}
			pos = end
			if h := s.hooks.watchCatchUpStep; h != nil {
				h(pos)
			}
			if !s.unparkEpochs(epochs) {
				epochs = nil // the server rebuilt its base meanwhile
			}
			continue
		}
		select {
		case <-ctx.Done():
			return toConnect(ctx.Err())
		case <-s.hub.stopCh:
			return s.hub.endError(pos)
		case step, ok := <-q:
			if ok {
				s.hub.received()
			}
			if !ok || step.seq != want {
				// Demoted, and the hub dropped the rest of the queue
				// (steps before this one too): catch up from the log.
				q = nil
				continue
			}
			want++
			cs := step.changes
			// The hub sends its whole step; a watch from an LSN the bus
			// had not reached joined before it and wants none of it
			// before from_lsn.
			for len(cs) > 0 && mmsb.LSN(cs[0].GetLsn()) <= pos {
				cs = cs[1:]
			}
			if err := send(cs); err != nil {
				return err
			}
		case <-ticker.C:
			pos = s.hub.progress(w, q, pos)
			if err := stream.Send(&mmsbv1.WatchResponse{ProgressLsn: uint64(pos)}); err != nil {
				return err
			}
		}
	}
}
