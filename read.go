package mmsb

import (
	"encoding/binary"
	"fmt"
	"runtime"

	"github.com/cespare/xxhash/v2"

	"github.com/mmsb-go/mmsb/internal/graph"
	"github.com/mmsb-go/mmsb/internal/page"
)

// PageInfo describes a page.
type PageInfo struct {
	ID       PageID
	Size     int
	Location Location
	Epoch    Epoch
	LastLSN  LSN // LSN of the last operation that wrote the page
	Flags    uint8
	Meta     []MetaEntry
	Derived  bool // bound to a recompute function
}

// ReadPage appends page id's bytes to dst and returns them with its epoch.
func (e *Bus) ReadPage(id PageID, dst []byte) ([]byte, Epoch, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return dst, 0, ErrClosed
	}
	sl, ok := e.store.Lookup(id)
	if !ok {
		return dst, 0, fmt.Errorf("%w: page %d", ErrPageNotFound, id)
	}
	return append(dst, e.store.Bytes(sl)...), e.store.Epoch(sl), nil
}

// Page returns a page's description.
func (e *Bus) Page(id PageID) (PageInfo, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	sl, ok := e.store.Lookup(id)
	if !ok {
		return PageInfo{}, fmt.Errorf("%w: page %d", ErrPageNotFound, id)
	}
	return e.pageInfoLocked(sl), nil
}

func (e *Bus) pageInfoLocked(sl page.Slot) PageInfo {
	id := e.store.ID(sl)
	_, derived := e.bindings[id]
	return PageInfo{ID: id, Size: e.store.Size(sl), Location: Location(e.store.Location(sl)), Epoch: e.store.Epoch(sl),
		LastLSN: e.store.LastLSN(sl), Flags: e.flags[id], Meta: metaOut(e.store.Meta(sl)), Derived: derived}
}

// Pages returns every page's description in ascending ID order.
func (e *Bus) Pages() []PageInfo {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]PageInfo, 0, e.store.Len())
	e.store.ForEach(func(sl page.Slot) bool {
		out = append(out, e.pageInfoLocked(sl))
		return true
	})
	return out
}

// PageIDs returns the live page IDs in ascending order.
func (e *Bus) PageIDs() []PageID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.store.AppendIDs(nil)
}

// Flags returns a page's flags (FlagStale, FlagSyncPending, FlagIRInvalid).
func (e *Bus) Flags(id PageID) (uint8, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if _, ok := e.store.Lookup(id); !ok {
		return 0, fmt.Errorf("%w: page %d", ErrPageNotFound, id)
	}
	return e.flags[id], nil
}

// Binding returns a derived page's binding.
func (e *Bus) Binding(id PageID) (Binding, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	b, ok := e.bindings[id]
	if !ok {
		return Binding{}, false
	}
	return Binding{Func: b.Func, Params: append([]byte(nil), b.Params...), Parents: append([]PageID(nil), b.Parents...)}, true
}

// Bindings returns the IDs of every derived page, ascending.
func (e *Bus) Bindings() []PageID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.sortedBindingIDs()
}

// Edges returns every edge in (parent, child, type) order.
func (e *Bus) Edges() []Edge {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []Edge
	e.graph.Edges(func(ed graph.Edge) bool { out = append(out, edgeOf(ed)); return true })
	return out
}

// Children returns id's outgoing edges.
func (e *Bus) Children(id PageID) []Edge {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return edgesOut(e.graph.AppendChildren(nil, id))
}

// Parents returns id's incoming edges.
func (e *Bus) Parents(id PageID) []Edge {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return edgesOut(e.graph.AppendParents(nil, id))
}

// Descendants returns every page reachable from id, in topological order.
func (e *Bus) Descendants(id PageID) []PageID {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.graph.AppendDescendants(nil, []PageID{id}, nil)
}

// LastLSN returns the LSN of the last applied operation.
func (e *Bus) LastLSN() LSN {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.lastLSN
}

// StateHash returns a 64-bit xxhash over every page in ID order (ID, size,
// epoch, bytes). Two buses with equal hashes hold the same pages.
func (e *Bus) StateHash() uint64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.stateHashLocked()
}

func (e *Bus) stateHashLocked() uint64 {
	h := xxhash.New()
	var hdr [24]byte
	e.store.ForEach(func(sl page.Slot) bool {
		binary.LittleEndian.PutUint64(hdr[0:], uint64(e.store.ID(sl)))
		binary.LittleEndian.PutUint64(hdr[8:], uint64(e.store.Size(sl)))
		binary.LittleEndian.PutUint64(hdr[16:], uint64(e.store.Epoch(sl)))
		h.Write(hdr[:])
		h.Write(e.store.Bytes(sl))
		return true
	})
	return h.Sum64()
}

// Stats describes the bus.
type Stats struct {
	Pages           int
	LogicalBytes    int64
	Store           StoreStats
	Edges           int
	GraphNodes      int
	GraphBytes      int64
	Bindings        int
	LastLSN         LSN
	Log             LogStats
	SyncMode        string
	Checkpoints     uint64
	LastCheckpoint  LSN
	HeapBytes       uint64
	InMemory        bool
	Failed          bool
	HistoryCapacity int
}

// Stats returns current statistics.
func (e *Bus) Stats() Stats {
	e.mu.RLock()
	st := e.store.Stats()
	s := Stats{Pages: st.Pages, LogicalBytes: st.LogicalBytes, Store: StoreStats(st), Edges: e.graph.NumEdges(),
		GraphNodes: e.graph.NumNodes(), GraphBytes: e.graph.MemoryBytes(), Bindings: len(e.bindings),
		LastLSN: e.lastLSN, SyncMode: e.opts.Sync.String(), InMemory: e.memory, Failed: e.failErr != nil,
		HistoryCapacity: len(e.hist)}
	if e.log != nil {
		s.Log = LogStats(e.log.Stats())
	}
	e.mu.RUnlock()
	e.ckptMu.Lock()
	s.Checkpoints, s.LastCheckpoint = e.checkpointCount, e.lastCkptLSN
	e.ckptMu.Unlock()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.HeapBytes = ms.HeapAlloc
	return s
}
