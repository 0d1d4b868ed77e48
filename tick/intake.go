package tick

import (
	"context"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/mmsb-go/mmsb"

	"github.com/mmsb-go/mmsb/delta"
)

// intakeSlot is a queued delta with the storage its bytes were copied into.
// Slots are swapped (not copied) between the queue and the tick's batch, so
// every buffer is reused and steady-state submission allocates nothing.
type intakeSlot struct {
	d    delta.Delta
	buf  []byte      // copied run data, mask, payload, intent
	runs []delta.Run // copied run headers
}

// intakeCell is one cell of the ring. seq follows Vyukov's bounded MPMC
// queue, less the cell's index: for position pos (lap base pos&^mask),
// seq == base means free for the producer claiming pos, seq == base+1
// filled and ready for the consumer at pos, and the consumer frees it
// with the next lap's base. Vyukov's words start at each cell's index;
// these start at zero, so a new queue is make's zeroed memory and its
// ring is not written until used: a 65,536-cell ring is 17 MB, and
// writing every cell in New took 80-160 ms on the 2-core VM (its first
// touches of memory), 1.4-2 s under the race detector.
type intakeCell struct {
	seq atomic.Uint64
	intakeSlot
	cost uint64 // bytes this delta holds against the queue's byte bound (see deltaCost)
	idle uint64 // capacity of the buffers drain left here for reuse (see intakeQueue.idle)
}

// intakeQueue is a bounded lock-free multi-producer single-consumer queue
// of deltas (Vyukov's bounded queue with a single consumer, so the head
// needs no atomic). Producers that find it full may wait on wake, a channel
// the consumer closes (and replaces) after freeing cells while producers
// wait.
type intakeQueue struct {
	_     [64]byte
	tail  atomic.Uint64 // next position producers claim
	_     [56]byte
	head  uint64 // next position the consumer reads; consumer only
	mask  uint64
	cells []intakeCell

	// bytes is the cost (deltaCost) of the queued deltas and of those a
	// tick drained and has not committed or rejected yet (kept ones
	// included), at most maxBytes: producers reserve their cost before
	// they claim cells, drain hands it to the batch with the deltas, and
	// the tick gives it back once it is done with them (releaseBatch).
	bytes    atomic.Uint64
	maxBytes uint64
	// idle is the capacity of the copy buffers that drain left in cells
	// for producers to reuse (consumer only), at most maxBytes: each cell
	// could otherwise keep a buffer of up to maxKeptDeltaBytes, 4 GiB over
	// the default 65,536 cells, long after the deltas were committed.
	idle uint64

	waiters atomic.Int32
	wakeMu  sync.Mutex
	wake    chan struct{}
	closed  atomic.Bool
}

func newIntakeQueue(size, maxBytes int) *intakeQueue {
	n := 2
	for n < size {
		n <<= 1
	}
	return &intakeQueue{mask: uint64(n - 1), cells: make([]intakeCell, n), maxBytes: uint64(maxBytes), wake: make(chan struct{})}
}

// runHeaderBytes is the size of one copied run header.
const runHeaderBytes = uint64(unsafe.Sizeof(delta.Run{}))

// deltaCost is what queuing a copy of d holds in memory: its byte slices
// (run data, mask, payload, intent) and its run headers. Sums are uint64,
// so they do not wrap on 32-bit platforms.
func deltaCost(d *delta.Delta) uint64 {
	n := uint64(len(d.Mask)) + uint64(len(d.Payload)) + uint64(len(d.Intent)) + uint64(len(d.Runs))*runHeaderBytes
	for _, r := range d.Runs {
		n += uint64(len(r.Data))
	}
	return n
}

// reserveBytes takes n bytes of the byte bound, or reports false, taking
// nothing, when they do not fit.
func (q *intakeQueue) reserveBytes(n uint64) bool {
	if n == 0 {
		return true
	}
	for {
		cur := q.bytes.Load()
		if n > q.maxBytes-cur { // cur <= maxBytes always
			return false
		}
		if q.bytes.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// releaseBytes gives back n reserved bytes.
func (q *intakeQueue) releaseBytes(n uint64) {
	if n > 0 {
		q.bytes.Add(-n)
	}
}

// Bytes returns the cost of the queued deltas and of those drained but not
// yet committed or rejected (an estimate while producers run).
func (q *intakeQueue) Bytes() uint64 { return q.bytes.Load() }

// Len returns an estimate of the queued deltas.
func (q *intakeQueue) Len() int {
	t := q.tail.Load()
	h := atomic.LoadUint64(&q.head)
	if t < h {
		return 0
	}
	return int(t - h)
}

// tryPush claims len(ds) consecutive cells (len(ds) >= 1, at most the
// capacity) and fills them with ds in order (copying their bytes when
// copyBytes). It reports false, claiming nothing, when the queue lacks room
// for all of them: cells, or room under the byte bound for total, the sum
// of their costs (deltaCost) when copyBytes, else 0 (SubmitNoCopy's deltas
// hold the caller's memory, not the queue's).
//
// One CAS on the tail claims the whole range, so no other producer's delta
// lands inside it. The last cell of the range decides: the consumer frees
// cells in position order, so when the last one is free for this lap every
// cell before it is too, and a tail still at pos (the CAS) means none of
// them was claimed meanwhile.
func (q *intakeQueue) tryPush(ds []delta.Delta, copyBytes bool, total uint64) bool {
	// The bytes are reserved only once the cells look free: a producer
	// that finds the ring full reserves nothing, so it cannot make another
	// one find the byte bound reached.
	reserved := total == 0
	k := uint64(len(ds))
	for {
		pos := q.tail.Load()
		last := pos + k - 1
		seq := q.cells[last&q.mask].seq.Load()
		switch dif := int64(seq) - int64(last&^q.mask); {
		case dif == 0:
			if !reserved {
				if !q.reserveBytes(total) {
					return false // the byte bound is reached
				}
				reserved = true
				continue // the cells may have been taken meanwhile: look again
			}
			if !q.tail.CompareAndSwap(pos, pos+k) {
				continue
			}
			for i := range ds {
				p := pos + uint64(i)
				c := &q.cells[p&q.mask]
				c.cost = 0
				if copyBytes {
					c.fillCopy(&ds[i])
					if total > 0 {
						c.cost = deltaCost(&ds[i])
					}
				} else {
					c.d = ds[i]
				}
				c.seq.Store(p&^q.mask + 1) // publish to the consumer
			}
			return true
		case dif < 0:
			// The cell still holds an unconsumed delta: full. Give back
			// bytes reserved while the cells looked free (another producer
			// took them meanwhile), and wake the producers that may have
			// found the bound reached only because of this reservation:
			// nothing else would wake them while the queue stays as it is.
			if total > 0 && reserved {
				q.releaseBytes(total)
				q.wakeWaiters()
			}
			return false
		}
		// Another producer claimed pos meanwhile; reload.
	}
}

// fillCopy stores a copy of d whose slices point into the slot's own
// buffers. Two passes: the buffer may move while it grows, so slices are
// cut only once every byte is in.
func (s *intakeSlot) fillCopy(d *delta.Delta) {
	buf := s.buf[:0]
	runs := s.runs[:0]
	for _, r := range d.Runs {
		buf = append(buf, r.Data...)
	}
	buf = append(buf, d.Mask...)
	buf = append(buf, d.Payload...)
	buf = append(buf, d.Intent...)
	s.d = *d
	off := 0
	cut := func(n int) []byte {
		b := buf[off : off+n : off+n]
		off += n
		return b
	}
	for _, r := range d.Runs {
		runs = append(runs, delta.Run{Offset: r.Offset, Data: cut(len(r.Data))})
	}
	if d.Runs != nil {
		s.d.Runs = runs
	}
	if d.Mask != nil {
		s.d.Mask = cut(len(d.Mask))
	}
	if d.Payload != nil {
		s.d.Payload = cut(len(d.Payload))
	}
	if d.Intent != nil {
		s.d.Intent = cut(len(d.Intent))
	}
	s.buf, s.runs = buf, runs
}

// testHookBeforeWait, when set by a test, runs when push found the queue
// full and is about to wait for room.
var testHookBeforeWait func()

// push enqueues ds (1 to cap(q) deltas, all or none, costing total as
// tryPush), waiting for room for all of them unless failWhenFull.
func (q *intakeQueue) push(ctx context.Context, ds []delta.Delta, copyBytes bool, total uint64, failWhenFull bool) error {
	for {
		if q.closed.Load() {
			return errClosed
		}
		if q.tryPush(ds, copyBytes, total) {
			return nil
		}
		if failWhenFull {
			return mmsb.ErrBusy
		}
		if testHookBeforeWait != nil {
			testHookBeforeWait()
		}
		// Register as a waiter before the second attempt, so that a consumer
		// that frees room after it sees us and wakes us.
		q.waiters.Add(1)
		q.wakeMu.Lock()
		ch := q.wake
		q.wakeMu.Unlock()
		// close sets closed before it replaces wake under wakeMu: a wake
		// read after that replacement is a channel nobody will close.
		if q.closed.Load() {
			q.waiters.Add(-1)
			return errClosed
		}
		if q.tryPush(ds, copyBytes, total) {
			q.waiters.Add(-1)
			return nil
		}
		select {
		case <-ch:
			q.waiters.Add(-1)
		case <-ctx.Done():
			q.waiters.Add(-1)
			return ctx.Err()
		}
	}
}

// capacity is how many deltas the queue holds (QueueSize rounded up).
func (q *intakeQueue) capacity() int { return len(q.cells) }

// wakeWaiters releases producers waiting for room.
func (q *intakeQueue) wakeWaiters() {
	if q.waiters.Load() == 0 {
		return
	}
	q.wakeMu.Lock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.wakeMu.Unlock()
}

// close makes every later push fail with ErrClosed and wakes waiters.
func (q *intakeQueue) close() {
	q.closed.Store(true)
	q.wakeMu.Lock()
	close(q.wake)
	q.wake = make(chan struct{})
	q.wakeMu.Unlock()
}

// drain moves up to max queued deltas into b (swapping storage with the
// cells) and returns how many it moved. Single consumer only. The deltas'
// bytes stay reserved: each entry's cost goes with it (b.costs), and the
// tick releases it once the delta is committed or rejected, not kept
// (Orchestrator.releaseBatch).
func (q *intakeQueue) drain(b *intakeBatch, limit int) int {
	n := 0
	for n < limit {
		pos := q.head
		c := &q.cells[pos&q.mask]
		if c.seq.Load() != pos&^q.mask+1 {
			break
		}
		b.grow() // the new entry's delta is zero (reset cleared it), so the cell keeps no stale references
		i := len(b.ds) - 1
		// The cell gets the entry's buffers for reuse, or none when they
		// would pass the idle bound (its producer then allocates).
		q.idle -= c.idle
		c.idle = uint64(cap(b.bufs[i])) + uint64(cap(b.runs[i]))*runHeaderBytes
		if c.idle > q.maxBytes-q.idle {
			b.bufs[i], b.runs[i], c.idle = nil, nil, 0
		}
		q.idle += c.idle
		b.ds[i], c.d = c.d, b.ds[i]
		b.bufs[i], c.buf = c.buf, b.bufs[i]
		b.runs[i], c.runs = c.runs, b.runs[i]
		b.costs[i] = c.cost
		c.seq.Store(pos&^q.mask + q.mask + 1) // free for the producer one lap later
		atomic.StoreUint64(&q.head, pos+1)
		n++
	}
	if n > 0 {
		q.wakeWaiters() // cells were freed
	}
	return n
}

// intakeBatch holds the deltas of one tick in parallel arrays, so that ds
// can be passed to Commit as is while each entry keeps its own buffers.
type intakeBatch struct {
	ds   []delta.Delta
	bufs [][]byte
	runs [][]delta.Run
	// costs are the bytes each entry holds reserved against the queue's
	// byte bound (its deltaCost for a copy, 0 for SubmitNoCopy).
	costs []uint64
}

// cost returns the bytes entries [from, to) hold reserved.
func (b *intakeBatch) cost(from, to int) uint64 {
	var n uint64
	for _, c := range b.costs[from:to] {
		n += c
	}
	return n
}

// maxKeptDeltaBytes is the largest copy buffer an intake entry keeps for
// reuse once its delta is committed or dropped: buffers cycle between the
// queue's cells and the batch, so without a bound every entry would keep
// the size of the largest delta it ever held.
const maxKeptDeltaBytes = 64 << 10

func (b *intakeBatch) reset() {
	clear(b.ds) // release references to caller memory
	for i, buf := range b.bufs {
		if cap(buf) > maxKeptDeltaBytes {
			b.bufs[i], b.runs[i] = nil, nil // the runs point into the buffer
		}
	}
	b.ds = b.ds[:0]
	b.bufs = b.bufs[:0]
	b.runs = b.runs[:0]
	b.costs = b.costs[:0]
}

// grow appends one entry, reusing the storage left there by earlier ticks.
func (b *intakeBatch) grow() {
	n := len(b.ds)
	if n < cap(b.ds) {
		b.ds = b.ds[:n+1]
	} else {
		b.ds = append(b.ds, delta.Delta{})
	}
	if n < cap(b.bufs) {
		b.bufs = b.bufs[:n+1]
	} else {
		b.bufs = append(b.bufs, nil)
	}
	if n < cap(b.runs) {
		b.runs = b.runs[:n+1]
	} else {
		b.runs = append(b.runs, nil)
	}
	b.costs = append(b.costs[:n], 0)
}

// keepRange moves entries [from, from+n) to the front, in order and with
// their storage, and cuts the batch to them. Swapping forwards is safe even
// when the ranges overlap: step i reads from+i, which no earlier step wrote.
func (b *intakeBatch) keepRange(from, n int) {
	for i := 0; i < n; i++ {
		b.swap(i, from+i)
	}
	clear(b.ds[n:]) // release references to caller memory
	b.ds, b.bufs, b.runs, b.costs = b.ds[:n], b.bufs[:n], b.runs[:n], b.costs[:n]
}

// swap exchanges entries i and j with their storage.
func (b *intakeBatch) swap(i, j int) {
	b.ds[i], b.ds[j] = b.ds[j], b.ds[i]
	b.bufs[i], b.bufs[j] = b.bufs[j], b.bufs[i]
	b.runs[i], b.runs[j] = b.runs[j], b.runs[i]
	b.costs[i], b.costs[j] = b.costs[j], b.costs[i]
}
