// Package server serves a bus over the network: the handlers of
// mmsb.v1.BusService (proto/mmsb/v1/bus.proto), the watch hub, and bearer
// token / client certificate authorisation. `mmsb serve` wires it to an
// HTTP server; docs/server.md is the user's guide.
//
// Handlers are thin: they convert between the wire messages and the bus's
// public types and map the bus's errors to Connect codes
// (InvalidArgument, NotFound, Aborted, FailedPrecondition, ...), keeping the
// bus's message, which names the page, offset or option at fault.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/gen/mmsb/v1/mmsbv1connect"
	"github.com/mmsb-go/mmsb/tick"
)

// Config configures a Server.
type Config struct {
	// Bus is the bus served (required). The server does not close it.
	Bus *mmsb.Bus
	// Orchestrator, when set, receives Submit calls; without it Submit
	// fails with FailedPrecondition.
	Orchestrator *tick.Orchestrator
	// Logger receives structured logs (default: slog.Default()).
	Logger *slog.Logger
	// WatchQueue is each watcher's queue, in batches of changes (default
	// 256, at most MaxWatchQueue). A watcher whose queue fills is demoted
	// to reading the log by itself until it has caught up.
	WatchQueue int
	// ProgressInterval is the default interval of watch progress messages
	// (default 1 s).
	ProgressInterval time.Duration
	// MaxAsOfReads bounds the Read calls with an as_of_lsn that run at
	// once (0: DefaultMaxAsOfReads): each replays the checkpoint and log
	// into a detached in-memory bus, of one page when the items name one,
	// else of the whole bus (memory in proportion to its state), so that
	// unbounded, a client with the read role could exhaust the server's
	// CPU and memory. Others wait for a slot until their deadline.
	MaxAsOfReads int
	// MaxWatchers bounds the Watch streams open at once (0:
	// DefaultMaxWatchers); one more fails with ResourceExhausted naming
	// the bound. Each holds a goroutine, its queue (WatchQueue steps)
	// and its page selection, and the hub visits every synced watcher at
	// each step under its lock: unbounded, a client with the read role
	// could open watches over as many connections as it liked
	// (--max-streams bounds them per connection only) until the server
	// ran out of memory.
	MaxWatchers int
	// MaxLogQueries bounds the QueryLog streams (the inspector's log
	// queries included, inspector.Options.LogQuerySlot) running at once
	// (0: DefaultMaxLogQueries); one more fails with ResourceExhausted
	// naming the bound. Each reads the log by itself with a buffer as
	// large as the largest record it meets (up to the log's 256 MiB
	// record limit), and one whose filter matches little reads every
	// segment: unbounded, a client with the read role could open them
	// over as many connections as it liked.
	MaxLogQueries int
	// Follower says the bus follows a leader (replication): a Watch from
	// past its last LSN + 1 is Unavailable, to be retried once it has
	// caught up (a client resuming through a load balancer onto a
	// follower behind the node it was on), where a bus that leads
	// refuses it as InvalidArgument (a bus restored from an older backup).
	Follower bool
}

// DefaultMaxWatchers is the default of Config.MaxWatchers: far above the
// hundreds of watchers a server was measured with (docs/server.md, "Watch
// figures"), and at the default WatchQueue at most 4,096 queues of 256
// steps.
const DefaultMaxWatchers = 4096

// DefaultMaxLogQueries is the default of Config.MaxLogQueries: at the
// log's record limit, 4 GiB of record buffers at most, and far more
// queries than a person at an inspector or a script runs at once.
const DefaultMaxLogQueries = 16

// DefaultMaxAsOfReads is the default of Config.MaxAsOfReads: two replays
// at once keep a reader's as-of read from waiting behind another one
// alone, while bounding the memory of replays to twice the bus's state.
const DefaultMaxAsOfReads = 2

// Server implements mmsbv1connect.BusServiceHandler over a bus.
type Server struct {
	mmsbv1connect.UnimplementedBusServiceHandler

	bus  *mmsb.Bus
	orch *tick.Orchestrator
	log  *slog.Logger
	hub  *hub

	progress time.Duration
	follower bool // Config.Follower

	// writes counts the writing calls in flight (every state change,
	// Submit) and the long calls (Checkpoint, VerifyReplay), so that
	// Shutdown can let them finish before its caller closes the bus; once
	// draining, new ones are refused.
	writeMu  sync.Mutex
	writes   sync.WaitGroup
	draining bool

	// longs holds the cancel functions of the long calls in flight
	// (beginLong): when Shutdown stops waiting it cancels each (cutLongs)
	// before it returns, so that they stop instead of running on past the
	// shutdown deadline and holding up the bus's Close. cut says it did.
	longMu   sync.Mutex
	longs    map[*context.CancelCauseFunc]struct{}
	longsCut bool

	// hooks, set by tests only (export_test.go), observe as-of reads:
	// asOfStarted when one has its slot and starts replaying, asOfWaiting
	// when one finds every slot taken; statsHashing runs in Stats before
	// it reads the counters and the state hash (holding the hash slot),
	// statsWaiting when a Stats asking for the state hash finds the slot
	// taken; queryLogOp runs in QueryLog, with its context, before it
	// takes each operation.
	hooks struct {
		asOfStarted, asOfWaiting, statsHashing, statsWaiting func()
		queryLogOp                                           func(context.Context)
		watchCatchUpStep                                     func(pos mmsb.LSN)
	}

	// hashSlot holds a token while a Stats call hashes the state: one at
	// a time.
	hashSlot chan struct{}

	// asOfSlots holds a token per as-of Read running (Config.MaxAsOfReads).
	asOfSlots chan struct{}

	// epochBase is the page epochs the watchers' epoch trackers start
	// from (epochs.go), shared; epochBaseGen counts its rebuildings (a
	// parked tracker takes it back only if it is still the one it was
	// built on); epochBaseMu guards both and the rebuilding.
	epochBaseMu  sync.Mutex
	epochBase    *epochBase
	epochBaseGen uint64

	watchers    atomic.Int64
	maxWatchers int64

	// watchCut and queryCut: the Watch and the QueryLog requests being
	// served, which Shutdown cuts (cutWatches, cutQueries).
	watchCut, queryCut StreamCut

	// readyzLogged: /readyz logged the bus's error (once).
	readyzLogged atomic.Bool

	logQueries    atomic.Int64
	maxLogQueries int64
	slow          atomic.Uint64
	compacted     atomic.Uint64
}

// MaxWatchQueue bounds Config.WatchQueue (batches per watcher).
const MaxWatchQueue = 1 << 16

// New returns a server for cfg.Bus and starts its watch hub; Shutdown
// stops it.
func New(cfg Config) (*Server, error) {
	if cfg.Bus == nil {
		return nil, errors.New("server: Config.Bus is nil")
	}
	s := &Server{bus: cfg.Bus, orch: cfg.Orchestrator, log: cfg.Logger, progress: cfg.ProgressInterval, follower: cfg.Follower}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.progress <= 0 {
		s.progress = time.Second
	}
	q := cfg.WatchQueue
	if q <= 0 {
		q = 256
	}
	if q > MaxWatchQueue {
		// Each watcher's queue is made at its start: 10^12 entries
		// crashed the server at the first watch.
		return nil, fmt.Errorf("server: Config.WatchQueue is %d: at most %d", q, MaxWatchQueue)
	}
	if cfg.MaxAsOfReads < 0 {
		return nil, fmt.Errorf("server: Config.MaxAsOfReads is %d: want 0 (the default, %d) or more", cfg.MaxAsOfReads, DefaultMaxAsOfReads)
	}
	n := cfg.MaxAsOfReads
	if n == 0 {
		n = DefaultMaxAsOfReads
	}
	s.asOfSlots = make(chan struct{}, n)
	s.hashSlot = make(chan struct{}, 1)
	if cfg.MaxWatchers < 0 {
		return nil, fmt.Errorf("server: Config.MaxWatchers is %d: want 0 (the default, %d) or more", cfg.MaxWatchers, DefaultMaxWatchers)
	}
	s.maxWatchers = int64(cfg.MaxWatchers)
	if s.maxWatchers == 0 {
		s.maxWatchers = DefaultMaxWatchers
	}
	if cfg.MaxLogQueries < 0 {
		return nil, fmt.Errorf("server: Config.MaxLogQueries is %d: want 0 (the default, %d) or more", cfg.MaxLogQueries, DefaultMaxLogQueries)
	}
	s.maxLogQueries = int64(cfg.MaxLogQueries)
	if s.maxLogQueries == 0 {
		s.maxLogQueries = DefaultMaxLogQueries
	}
	s.hub = newHub(s, q)
	go s.hub.run()
	return s, nil
}

// Handler returns the path prefix and HTTP handler of the service, with
// the given Connect options (interceptors, read limits).
func (s *Server) Handler(opts ...connect.HandlerOption) (string, http.Handler) {
	return mmsbv1connect.NewBusServiceHandler(s, opts...)
}

// Watchers returns the number of open Watch streams.
func (s *Server) Watchers() int64 { return s.watchers.Load() }

// SlowWatcherDemotions counts watchers demoted to catching up from the log
// because their queue overflowed.
func (s *Server) SlowWatcherDemotions() uint64 { return s.slow.Load() }

// CompactedWatches counts Watch calls refused because their from_lsn was
// no longer in the log.
func (s *Server) CompactedWatches() uint64 { return s.compacted.Load() }

// beginWrite registers a writing call in flight, or refuses it with
// Unavailable once Shutdown began: the bus is closed after Shutdown
// returns, and a write it did not wait for would be cut off (or fail with
// the closed bus's error) instead of answering with its own result. Every
// handler that changes the bus, or queues a change (Submit), or writes a
// checkpoint calls it before touching the bus, and endWrite when done.
func (s *Server) beginWrite(what string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if s.draining {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s: server shutting down; retry after the restart or on another server", what))
	}
	s.writes.Add(1)
	return nil
}

func (s *Server) endWrite() { s.writes.Done() }

// errCutShort is the cause with which Shutdown ends a long call's context.
var errCutShort = errors.New("server shutting down")

// beginLong registers a long call (Checkpoint, VerifyReplay) as
// beginWrite does, refused once Shutdown began, and returns the context
// it must run with: ctx, also ended when Shutdown's own context ends with
// the call still running. Until 2026-12-04 VerifyReplay was not counted
// at all (Shutdown returned while it replayed under the bus's lock, and
// the bus's Close then waited for the whole replay), and a Checkpoint
// Shutdown gave up on ran to its end, past the deadline
// (TestShutdownLongCalls). Both stop at their context (between log
// records; between ranges of pages), so the bus's Close is not held up.
// done must be called when the call returns.
func (s *Server) beginLong(ctx context.Context, what string) (_ context.Context, done func(), _ error) {
	if err := s.beginWrite(what); err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	key := &cancel
	s.longMu.Lock()
	if s.longsCut {
		cancel(errCutShort) // Shutdown gave up between beginWrite and here
	} else {
		if s.longs == nil {
			s.longs = make(map[*context.CancelCauseFunc]struct{})
		}
		s.longs[key] = struct{}{}
	}
	s.longMu.Unlock()
	return ctx, func() {
		s.longMu.Lock()
		delete(s.longs, key)
		s.longMu.Unlock()
		cancel(nil)
		s.endWrite()
	}, nil
}

// cutLongs cancels every long call in flight, and any that begins later,
// with errCutShort. It returns once each has its context cancelled (a
// context.AfterFunc on a shared context cancelled them on goroutines of
// their own, after Shutdown returned: a call let go just then could still
// finish as if nothing had cut it, which TestShutdownLongCalls caught
// about once in ten runs).
func (s *Server) cutLongs() {
	s.longMu.Lock()
	defer s.longMu.Unlock()
	s.longsCut = true
	for c := range s.longs {
		(*c)(errCutShort)
	}
}

// longError is the error of a long call that failed with err, ctx the
// context beginLong gave it: Unavailable, saying so, when Shutdown cut it
// short (the bus's error is then only the context's).
func longError(ctx context.Context, what string, err error) error {
	if errors.Is(context.Cause(ctx), errCutShort) {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("%s: cut short by the server shutting down (its shutdown deadline passed first); retry after the restart or on another server", what))
	}
	return toConnect(err)
}

// cutWatches cuts every Watch stream being served, and any that starts
// later, StreamEndGrace after the hub has ended it with its resumable
// error: one whose client stopped reading cannot write that end.
func (s *Server) cutWatches() { s.watchCut.Cut(nil) }

// cutQueries ends every QueryLog stream being served, and any that
// starts later: its context is cancelled with errCutShort (the query
// stops between operations and answers Unavailable, naming where to
// resume) and its writes fail StreamEndGrace later, so that one blocked
// writing to a client that stopped reading ends too. A query only reads:
// a shutdown loses nothing by cutting it, so it is not given the grace
// period the writing calls are.
func (s *Server) cutQueries() { s.queryCut.Cut(errCutShort) }

// Shutdown refuses new writing calls (state changes, Submit) and long
// calls (Checkpoint, VerifyReplay) with Unavailable, waits for those in
// flight (or ctx: the long calls still running are then cut short, and
// answer Unavailable), and closes every watch with a resumable
// Unavailable error carrying the last LSN it delivered; a watch whose
// client does not take that end (it stopped reading) within a second is
// cut (its stream reset). QueryLog streams are ended at once, with
// Unavailable naming the LSN to resume from (they only read: nothing is
// lost), and cut a second later if their client stopped reading. The HTTP server should stop accepting connections
// first (http.Server.Shutdown does, but waits for streams: call this
// concurrently with it, or before it).
func (s *Server) Shutdown(ctx context.Context) error {
	s.writeMu.Lock()
	s.draining = true
	s.writeMu.Unlock()
	s.cutQueries()
	done := make(chan struct{})
	go func() { s.writes.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		s.cutLongs()
	}
	s.hub.stop()
	s.cutWatches()
	return err
}
