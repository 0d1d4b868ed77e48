package main

import (
	"context"
	"errors"
)

// Target is one system under test in one durability mode. The harness
// calls Setup once, then Commit for every batch (timed), then ReadPage
// (only in tests), then Close. Another system is one more implementation
// of this interface and one more entry in targets.
type Target interface {
	// Setup creates w.Pages zeroed pages of w.PageSize bytes, in dir (a
	// fresh temporary directory the target owns).
	Setup(ctx context.Context, dir string, w Workload) error
	// Commit applies one batch atomically (as far as the system allows)
	// and returns once it is durable per the mode.
	Commit(ctx context.Context, batch []Write) error
	// ReadPage returns page i's bytes (0-based).
	ReadPage(ctx context.Context, i uint32) ([]byte, error)
	// Close releases everything Setup started.
	Close() error
}

// Modes: nosync acknowledges once the write reached the system (the OS
// page cache for the embedded stores, the server's memory for Redis); sync
// once it is on disk (fsync).
const (
	ModeNoSync = "nosync"
	ModeSync   = "sync"
)

// ErrUnavailable marks a target that cannot run here (a program missing):
// the benchmark skips it and says why.
var ErrUnavailable = errors.New("target unavailable")

// entry names a target and makes it.
type entry struct {
	System string // "mmsb", "mmsb-server", "mmsb-server-4", "redis", ...
	Mode   string // ModeNoSync or ModeSync
	New    func() Target
	// Clients > 1: that many goroutines call Commit concurrently, each
	// taking the next batch (the target's Commit is safe for concurrent
	// use); the batches then apply in an order the target decides.
	Clients int
}

// targets lists every system and mode, MMSB first (the ratios divide by
// the peer's figure in the same mode).
func targets() []entry {
	var es []entry
	for _, mode := range []string{ModeNoSync, ModeSync} {
		m := mode
		es = append(es,
			entry{"mmsb", m, func() Target { return &mmsbTarget{sync: m == ModeSync} }, 1},
			entry{"mmsb-server", m, func() Target { return &mmsbServerTarget{sync: m == ModeSync} }, 1},
			entry{"mmsb-server-4", m, func() Target { return &mmsbServerTarget{sync: m == ModeSync, clients: 4} }, 4},
			entry{"mmsb-server-16", m, func() Target { return &mmsbServerTarget{sync: m == ModeSync, clients: 16} }, 16},
			entry{"redis", m, func() Target { return &redisTarget{sync: m == ModeSync} }, 1},
			entry{"pebble", m, func() Target { return &pebbleTarget{sync: m == ModeSync} }, 1},
			entry{"bbolt", m, func() Target { return &boltTarget{sync: m == ModeSync} }, 1},
		)
	}
	return es
}
