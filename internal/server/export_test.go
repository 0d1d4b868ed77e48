package server

import (
	"context"
	"sync"
	"weak"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// SetAsOfHooks sets the functions an as-of Read calls when it takes a
// slot and starts replaying (started) and when it finds every slot taken
// (waiting), so that tests observe the bound without timing. Set before
// the server serves.
func SetAsOfHooks(s *Server, started, waiting func()) {
	s.hooks.asOfStarted, s.hooks.asOfWaiting = started, waiting
}

// EpochBaseBuilds returns how many times the server built its shared
// epoch base (epochs.go).
func EpochBaseBuilds(s *Server) uint64 {
	s.epochBaseMu.Lock()
	defer s.epochBaseMu.Unlock()
	return s.epochBaseGen
}

// Draining reports whether Shutdown has begun (new writing and long
// calls are refused), without touching the bus.
func Draining(s *Server) bool {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.draining
}

// SetStatsHook sets the function Stats calls between reading the counters
// and hashing the state (each try), so that a test can commit there.
// Set before the server serves.
func SetStatsHook(s *Server, hashing func()) { s.hooks.statsHashing = hashing }

// SetConnRefusedHook sets the function a LimitConns listener calls after
// it closed a connection beyond its bound.
func SetConnRefusedHook(ln any, refused func()) { ln.(*limitListener).refused = refused }

// CountLoopbackClients makes a LimitConns listener or a LimitRequests
// handler bound loopback clients per client too (they are exempt), so
// that tests can use 127.0.0.1 and 127.0.0.2 as two clients. Set before
// it serves.
func CountLoopbackClients(limited any) {
	switch l := limited.(type) {
	case *limitListener:
		l.countLoopback = true
	case *requestLimit:
		l.countLoopback = true
	default:
		panic("CountLoopbackClients: not a LimitConns listener or a LimitRequests handler")
	}
}

// SetStatsWaitingHook sets the function a Stats call asking for the
// state hash calls when another one holds the hash slot.
func SetStatsWaitingHook(s *Server, waiting func()) { s.hooks.statsWaiting = waiting }

// SetQueryLogHook sets the function QueryLog calls, with its context,
// before it takes each operation the log query yields. Set before the
// server serves.
func SetQueryLogHook(s *Server, op func(context.Context)) { s.hooks.queryLogOp = op }

// SetWatchCatchUpHook sets the function a watch catching up from the log
// calls after each step it read and sent, with its position. Set before
// the server serves.
func SetWatchCatchUpHook(s *Server, step func(pos mmsb.LSN)) { s.hooks.watchCatchUpStep = step }

// ProbeConnsOpen returns how many connections of a LimitConns listener's
// probe reserve are open.
func ProbeConnsOpen(ln any) int {
	l := ln.(*limitListener)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.probeOpen
}

// SetAnswerByteBounds sets a LimitRequests handler's bounds on the bytes
// its answers in flight hold (MaxAnswerBytes, MaxAnswerBytesPerClient),
// so that tests need not hold a gigabyte. Set before it serves.
func SetAnswerByteBounds(limited any, total, perClient int64) {
	l := limited.(*requestLimit)
	l.answers.max, l.answers.perClient = total, perClient
}

// AnswerBytesHeld returns what a LimitRequests handler counts as held by
// the answers in flight: the bytes over all clients, and the clients
// holding some (with a per-client bound).
func AnswerBytesHeld(limited any) (total int64, clients int) {
	l := limited.(*requestLimit)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.answers.total, len(l.answers.clients)
}

// SetWriteByteBounds sets a LimitRequests handler's bounds on the bytes
// its write requests in flight hold (MaxWriteBytes, MaxWriteBytesPerClient).
func SetWriteByteBounds(limited any, total, perClient int64) {
	l := limited.(*requestLimit)
	l.writes.max, l.writes.perClient = total, perClient
}

// WriteBytesHeld returns what a LimitRequests handler counts as held by
// the write requests in flight: the bytes over all clients, and the
// clients holding some.
func WriteBytesHeld(limited any) (total int64, clients int) {
	l := limited.(*requestLimit)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes.total, len(l.writes.clients)
}

// EpochBaseAlive returns the generation of the server's current shared
// epoch base (epochs.go; EpochBaseBuilds when it was built, 0: none yet)
// and whether it is still reachable, as a function that asks again each
// time (through a weak pointer: after a garbage collection, false once
// nothing holds it, the server included).
func EpochBaseAlive(s *Server) (gen uint64, alive func() bool) {
	s.epochBaseMu.Lock()
	b, gen := s.epochBase, s.epochBaseGen
	s.epochBaseMu.Unlock()
	if b == nil {
		return 0, func() bool { return false }
	}
	w := weak.Make(b)
	return gen, func() bool { return w.Value() != nil }
}

// WatchChangesAlive makes the watch hub note each change it fans out from
// now on, and returns a function that reports the LSNs of the noted
// changes still reachable, in the order fanned out (through weak
// pointers: after a garbage collection, only those something still holds,
// such as a watcher's queue or a send in progress).
func WatchChangesAlive(s *Server) func() []mmsb.LSN {
	type note struct {
		lsn mmsb.LSN
		c   weak.Pointer[mmsbv1.Change]
	}
	var mu sync.Mutex
	var notes []note
	s.hub.mu.Lock()
	s.hub.fannedOut = func(cs []*mmsbv1.Change) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range cs {
			notes = append(notes, note{mmsb.LSN(c.GetLsn()), weak.Make(c)})
		}
	}
	s.hub.mu.Unlock()
	return func() []mmsb.LSN {
		mu.Lock()
		defer mu.Unlock()
		var held []mmsb.LSN
		for _, n := range notes {
			if n.c.Value() != nil {
				held = append(held, n.lsn)
			}
		}
		return held
	}
}
