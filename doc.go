// Package mmsb is the Memory-Mapped State Bus: one deterministic, versioned,
// byte-level store of shared program state, with a log that replays it bit
// for bit.
//
// # Model
//
// State lives in pages: byte regions of a fixed size (1 B to MaxPageSize)
// with a 64-bit PageID, a per-page Epoch, a Location (CPU only today),
// key/value metadata (MetaEntry) and flag bits. Page bytes live in
// pointer-free memory-mapped arenas, so a million pages cost the Go garbage
// collector nothing to scan.
//
// Pages change only through deltas (Delta, defined in package delta): byte
// writes to one page, as sparse runs (offset + bytes) or a bit mask plus
// payload. A batch of deltas is committed atomically by Bus.Commit: every
// delta is validated, the batch is appended to the transaction log as one
// record, then applied. Each operation gets the next log sequence number
// (LSN) in one total order; each applied delta raises its page's epoch by
// one. A delta can carry an expected epoch (CheckEpoch/ExpectEpoch): if the
// page moved on, the whole batch fails with ErrConflict and nothing applies
// (optimistic concurrency).
//
// Everything else that changes state is logged the same way: page creation
// and freeing, metadata, dependency edges (AddEdge: Data, Control, GPU-sync,
// Compiler), bindings of derived pages (Bind), and flags. So the log alone
// rebuilds the state: recovery (Open) loads the newest valid checkpoint and
// replays the log tail after it; Replay and Bus.ReadPageAt rebuild any past
// LSN; Bus.VerifyReplay proves that a replay equals the live state.
//
// # Derived pages and ticks
//
// A derived page is bound (Bind) to a registered RecomputeFunc and ordered
// parent pages. When a parent changes, propagation recomputes the derived
// pages in topological order, once per wave, with early cutoff (an
// unchanged output stops the wave below it), and logs the results as
// ordinary deltas with source PropagationSource and the parent LSNs they
// read, so that Bus.Provenance can say which bytes came from where. Control,
// GPU-sync and Compiler edges raise flags (FlagStale, FlagSyncPending,
// FlagIRInvalid) instead. Edges that would close a cycle are refused with
// ErrCycle, naming the cycle.
//
// Propagation runs when asked (Bus.Propagate) or, usually, in ticks: the
// orchestrator of package tick drains submitted deltas, commits them,
// propagates, runs invariant hooks and publishes events, once per tick.
//
// # Durability
//
// The SyncMode in Options says when Commit returns:
//
//   - SyncGroup (default): after an fsync that covers the batch; concurrent
//     committers share fsyncs. An acknowledged batch survives a power
//     failure.
//   - SyncAlways: after the batch's own write and fsync.
//   - SyncNone: after the batch is written to the OS. It survives a crash
//     of the process, not of the machine: a power failure may lose
//     acknowledged batches (never corrupt the log: recovery truncates a torn
//     tail and reports it).
//   - SyncReplicated: as SyncGroup, and the Replicator (Options.Replicator,
//     package internal/replicate for NATS JetStream) has stored the batch
//     record; a replication failure fails the commit and the bus
//     (ErrReplication). Followers (Options.Follower) apply the leader's
//     records with ApplyReplicated and check its rolling state hash after
//     each (docs/replication.md).
//
// CommitAsync returns once the batch is logged and applied, before it is
// durable; WaitDurable(ctx, lsn) waits for it. A failed write or fsync
// fails the bus: later writes return ErrFailed (it is never retried
// silently). Corruption found anywhere but the torn tail is a
// *CorruptionError naming the file and offset. Checkpoints are taken in the
// background once the log has grown by Options.CheckpointBytes (256 MiB by
// default), or at the first commit once Options.CheckpointInterval has
// passed since the last one, and on demand by Bus.Checkpoint; Bus.Close
// syncs the log and takes none (the next Open replays the log after the
// newest checkpoint). Checkpoints are written to a
// temporary file, synced and renamed; log segments are removed only once a
// checkpoint covers them. One process at a time may open a directory
// (ErrLocked); Open("", nil) gives an in-memory bus whose log lives in
// memory.
//
// # Concurrency
//
// A Bus is safe for concurrent use. Commits are serialised (their order is
// the log order); reads (ReadPage, Page, StateHash, ...) run concurrently
// with each other and see whole batches only, never half of one. Nothing a
// bus records depends on goroutine scheduling, map order or the wall clock
// except the commit timestamps (Options.Clock injects a deterministic one):
// the same operations give the same log bytes, checkpoints and state hash.
//
// # Caveats
//
// Recompute functions run on private copies of their inputs, without the
// bus's lock (commits and reads go on meanwhile; a wave whose inputs were
// written in that time is computed again with the lock held), and must be
// pure, fast and must not call the bus; the validators (mmsb validate, and
// package tick's invariant hooks) check purity by re-running them. After
// Close, methods that read or write state return ErrClosed; accessors that
// only describe the bus (LastLSN, Edges, Stats with Closed set) keep
// answering from memory. A page's bytes returned by ReadPage are a
// copy. GPU and Unified locations are reserved and refused.
//
// Every function and method that takes a context.Context refuses a nil one
// with ErrInvalidOption naming ctx and the function (pass
// context.Background()).
//
// See the examples below and docs/ for the architecture, the file formats
// byte by byte, and operations.
package mmsb
