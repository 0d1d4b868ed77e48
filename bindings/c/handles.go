//go:build cgo

package main

import (
	"sync"

	"github.com/mmsb-go/mmsb"
)

// handleTable maps the integer handles given to C to open buses. C holds
// only the integer, so no Go pointer crosses the boundary and a stale or
// forged handle is caught here instead of crashing. Handles count up from 1
// and are never reused: a handle below next that is no longer in the table
// was closed (MMSB_ERR_CLOSED); anything else is invalid.
// runtime/cgo.Handle would panic on a deleted handle, which is exactly the
// use after close this table must answer with a status code.
type handleTable struct {
	mu    sync.RWMutex
	next  uint64
	buses map[uint64]*mmsb.Bus
}

var handles = handleTable{next: 1, buses: map[uint64]*mmsb.Bus{}}

// handleState says what lookup found.
type handleState int

const (
	handleOpen    handleState = iota // the handle names an open bus
	handleClosed                     // it named a bus that was closed
	handleInvalid                    // no open ever returned it
)

func (t *handleTable) add(b *mmsb.Bus) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	h := t.next
	t.next++
	t.buses[h] = b
	return h
}

func (t *handleTable) lookup(h uint64) (*mmsb.Bus, handleState) {
	t.mu.RLock()
	b, ok := t.buses[h]
	next := t.next
	t.mu.RUnlock()
	switch {
	case ok:
		return b, handleOpen
	case h != 0 && h < next:
		return nil, handleClosed
	default:
		return nil, handleInvalid
	}
}

// remove takes h out of the table, so that exactly one caller of close gets
// the bus to close; concurrent calls still holding it get ErrClosed from the
// bus itself.
func (t *handleTable) remove(h uint64) (*mmsb.Bus, handleState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buses[h]
	switch {
	case ok:
		delete(t.buses, h)
		return b, handleOpen
	case h != 0 && h < t.next:
		return nil, handleClosed
	default:
		return nil, handleInvalid
	}
}
