package vfs

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Rooms are the arrays a size hint reserves for a MemFS file (a log
// segment's, in practice). They are recycled: once nothing references a
// room any more (its file removed and closed, no crash image or synced
// view left aliasing it), the garbage collector hands it to a finalizer
// that keeps it for the next hint of the same size, instead of freeing it.
//
// Why: on some VMs memory the process gives back to the kernel is costly
// to get again. On the 2-core AMD EPYC VM of docs/benchmarks.md every 4
// KiB page of anonymous memory the process gives back (munmap,
// MADV_DONTNEED, as the Go runtime's scavenger does with freed heap) costs
// 13–20 µs at its next first access, even when it is taken again at once
// (the VM reports freed pages to its host), and an in-memory bus that
// removes its older segments after each checkpoint and makes new ones
// spent 15 % of its CPU faulting them in again. A recycled room is memory
// the process never gave back.
//
// Recycling through the collector, not at Remove, is what makes it safe:
// a removed file's array may still be read through an open handle, a
// crash image made by CrashClone, or the synced view of a directory entry
// that is not yet durable, and only the collector knows when all of those
// are gone. Each MemFS keeps its own rooms, at most maxPooledRoomBytes of
// them; a room that finds the pool full is freed.
type roomPools struct {
	mu    sync.Mutex
	free  map[int][]*byte // by capacity: each a room's first byte
	bytes int             // the capacity of the rooms in free
}

// roomCounts count, in this process, the rooms size hints took from a
// pool and those they allocated (RoomCounts).
var roomCounts struct{ reused, made atomic.Int64 }

// maxRecycledRoom is the largest room recycled: log segments' (a few MiB
// to 80 MiB), not a gigabyte checkpoint's.
const maxRecycledRoom = 128 << 20

// maxPooledRoomBytes bounds the rooms a MemFS keeps: what an in-memory
// bus's log grows by between two automatic checkpoints (CheckpointBytes'
// default), whose segments are removed together once a checkpoint covers
// them.
const maxPooledRoomBytes = 256 << 20

// get returns an empty slice of capacity n: a recycled room when one of
// that size is pooled (recycled true; its bytes are an earlier file's,
// which MemFS never lets a reader see: growth zero-fills what is not
// written), else a new one. Either way the room comes back to the pool
// once it is garbage (put).
func (r *roomPools) get(n int) (room []byte, recycled bool) {
	if n <= 0 || n > maxRecycledRoom {
		return make([]byte, 0, n), false
	}
	r.mu.Lock()
	if l := r.free[n]; len(l) > 0 {
		b := l[len(l)-1]
		l[len(l)-1] = nil
		r.free[n] = l[:len(l)-1]
		r.bytes -= n
		room, recycled = unsafe.Slice(b, n)[:0], true
	}
	r.mu.Unlock()
	if recycled {
		roomCounts.reused.Add(1)
	} else {
		roomCounts.made.Add(1)
		room = make([]byte, 0, n)
	}
	runtime.SetFinalizer(unsafe.SliceData(room[:1]), func(b *byte) { r.put(b, n) })
	return room, recycled
}

// put pools the room of n bytes at b, which nothing references any more,
// unless the pool is full.
func (r *roomPools) put(b *byte, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bytes+n > maxPooledRoomBytes {
		return
	}
	if r.free == nil {
		r.free = map[int][]*byte{}
	}
	r.free[n] = append(r.free[n], b)
	r.bytes += n
}

// pooled reports how many rooms of n bytes are pooled (for tests).
func (r *roomPools) pooled(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.free[n])
}

// RoomCounts returns how many rooms size hints have taken from the pools
// of recycled rooms and how many they allocated, in this process.
func RoomCounts() (reused, made int64) {
	return roomCounts.reused.Load(), roomCounts.made.Load()
}
