package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/logquery"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// Limits on one request, so that no request makes the server allocate or
// stream without bound.
const (
	maxBatch         = 1 << 20 // deltas (or pages, or read items) in one request
	defaultListLimit = 1000
	maxListLimit     = 10000
	// maxReadBytes bounds the page data of one Read answer: 2^20 items of
	// a 16 MiB page would otherwise ask the server for 16 TiB.
	maxReadBytes = 64 << 20
	// maxListBytes bounds one ListPages answer (a page's metadata may
	// take 64 KiB): the answer ends early, with a next_after_id, once it
	// would grow past it. A Provenance answer stops there too, truncated.
	maxListBytes = 16 << 20
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func checkCount(what string, n int) error {
	if n == 0 {
		return invalid("%s: empty request", what)
	}
	if n > maxBatch {
		return connect.NewError(connect.CodeResourceExhausted, errorf("%s: %d items, more than %d", what, n, maxBatch))
	}
	return nil
}

// CreatePages implements mmsbv1connect.BusServiceHandler.
func (s *Server) CreatePages(ctx context.Context, req *connect.Request[mmsbv1.CreatePagesRequest]) (*connect.Response[mmsbv1.CreatePagesResponse], error) {
	if err := holdWrite(ctx, "CreatePages", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	if err := checkCount("CreatePages", len(req.Msg.GetPages())); err != nil {
		return nil, err
	}
	specs := make([]mmsb.PageSpec, len(req.Msg.GetPages()))
	for i, p := range req.Msg.GetPages() {
		specs[i] = mmsb.PageSpec{ID: mmsb.PageID(p.GetId()), Size: int(p.GetSize()), Meta: wire.MetaFromProto(p.GetMeta())}
	}
	if err := s.beginWrite("CreatePages"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	ids, err := s.bus.CreatePages(ctx, specs)
	out := &mmsbv1.CreatePagesResponse{Ids: make([]uint64, len(ids))}
	for i, id := range ids {
		out.Ids[i] = uint64(id)
	}
	if err != nil && len(ids) > 0 {
		// Logged and applied, then failed (fsync, replication): the
		// pages exist, and the caller must learn their IDs
		// (TestCreatePagesFailedAfterLogging).
		return nil, appliedThenFailed(out, fmt.Errorf("CreatePages: pages %d..%d were logged and created, then the create failed: %w", ids[0], ids[len(ids)-1], err), err)
	}
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(out), nil
}

// FreePage implements mmsbv1connect.BusServiceHandler.
func (s *Server) FreePage(ctx context.Context, req *connect.Request[mmsbv1.FreePageRequest]) (*connect.Response[mmsbv1.FreePageResponse], error) {
	if err := holdWrite(ctx, "FreePage", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	if err := s.beginWrite("FreePage"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	if err := s.bus.FreePage(ctx, mmsb.PageID(req.Msg.GetPage())); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&mmsbv1.FreePageResponse{}), nil
}

// SetMetadata implements mmsbv1connect.BusServiceHandler.
func (s *Server) SetMetadata(ctx context.Context, req *connect.Request[mmsbv1.SetMetadataRequest]) (*connect.Response[mmsbv1.SetMetadataResponse], error) {
	if err := holdWrite(ctx, "SetMetadata", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	if err := s.beginWrite("SetMetadata"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	if err := s.bus.SetMetadata(ctx, mmsb.PageID(req.Msg.GetPage()), wire.MetaFromProto(req.Msg.GetMeta())); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&mmsbv1.SetMetadataResponse{}), nil
}

func (s *Server) deltas(what string, ps []*mmsbv1.Delta, source string, intent []byte) ([]mmsb.Delta, error) {
	if len(ps) == 0 {
		// What Bus.Commit answers (ErrInvalidDelta), named as such.
		err := fmt.Errorf("%s: empty batch: %w", what, mmsb.ErrInvalidDelta)
		return nil, busError(connect.CodeInvalidArgument, err, err)
	}
	if err := checkCount(what, len(ps)); err != nil {
		return nil, err
	}
	if err := checkStamped(what, ps, source, intent); err != nil {
		return nil, err
	}
	if source == "" {
		source = "rpc"
	}
	ds, i, err := wire.DeltasFromProto(ps, source, intent)
	if err != nil {
		return nil, busError(connect.CodeInvalidArgument, fmt.Errorf("delta %d: %w", i, err), err)
	}
	for i := range ds {
		if reservedSource(ds[i].Source) {
			err := fmt.Errorf("%s: delta %d (page %d): %w: source %q is reserved for deltas the engine writes itself; a client cannot claim it",
				what, i, ds[i].Page, mmsb.ErrInvalidDelta, ds[i].Source)
			return nil, busError(connect.CodeInvalidArgument, err, err)
		}
	}
	return ds, nil
}

// maxStampedBytes bounds the bytes of source and intent a request's
// defaults (CommitRequest.source and .intent) make the log hold: each is
// given to every delta of the batch that has none of its own, and the log
// stores it with each. At DefaultMaxRequestBytes, a batch logs no more of
// them than a request could carry in its deltas' own fields. Until
// 2026-12-06 only the log's 256 MiB record limit bounded them: a request
// of 1.3 MB (a 1 MiB intent, or source, on 255 one-byte deltas) logged
// 255 MiB, and one of 1,000 deltas had the bus encode 256 MiB before
// refusing it (TestCommitStampedIntentBound).
const maxStampedBytes = DefaultMaxRequestBytes

// checkStamped refuses a batch whose request source and intent, given to
// each of its deltas without one of their own, would add up to more than
// maxStampedBytes, naming the sizes.
func checkStamped(what string, ps []*mmsbv1.Delta, source string, intent []byte) error {
	if len(source) == 0 && len(intent) == 0 {
		return nil
	}
	sourced, intented := 0, 0
	for _, p := range ps {
		if len(p.GetSource()) == 0 {
			sourced++
		}
		if len(p.GetIntent()) == 0 {
			intented++
		}
	}
	// At most 1 GiB (--max-request-bytes' largest) times 2^20 deltas,
	// twice: no overflow in 64 bits (an int product overflows on 32-bit).
	total := uint64(len(source))*uint64(sourced) + uint64(len(intent))*uint64(intented)
	if total <= maxStampedBytes {
		return nil
	}
	var parts []string
	if len(source) > 0 && sourced > 0 {
		parts = append(parts, fmt.Sprintf("source of %d bytes on %d deltas", len(source), sourced))
	}
	if len(intent) > 0 && intented > 0 {
		parts = append(parts, fmt.Sprintf("intent of %d bytes on %d deltas", len(intent), intented))
	}
	err := fmt.Errorf("%s: %w: the request's %s without their own would log %d bytes, more than %d: send shorter ones, commit smaller batches, or give the deltas their own",
		what, mmsb.ErrInvalidDelta, strings.Join(parts, " and "), total, maxStampedBytes)
	return busError(connect.CodeInvalidArgument, err, err)
}

// reservedSource reports whether a delta with Source s may come only from
// the engine: "propagation" (mmsb.PropagationSource) labels the writes of
// recompute functions, by which QueryLog's source filter selects derived
// writes and which provenance reports as their source, and "replay"
// (delta.SourceReplay) those of replay. A client sending one, as the
// request's source or a delta's own, had its client writes pass for
// derived ones until 2026-12-04 (TestCommitReservedSource).
// The other well-known labels ("api", "bench") and any other string stay
// the client's to choose.
func reservedSource(s string) bool {
	switch s {
	case mmsb.PropagationSource, delta.SourceReplay: // mmsb.PropagationSource is delta.SourcePropagation
		return true
	}
	return false
}

// Commit implements mmsbv1connect.BusServiceHandler. The bus commits the
// batch atomically: a refused batch changes nothing.
func (s *Server) Commit(ctx context.Context, req *connect.Request[mmsbv1.CommitRequest]) (*connect.Response[mmsbv1.CommitResponse], error) {
	if err := holdWrite(ctx, "Commit", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	ds, err := s.deltas("Commit", req.Msg.GetDeltas(), req.Msg.GetSource(), req.Msg.GetIntent())
	if err != nil {
		return nil, err
	}
	if err := s.beginWrite("Commit"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	info, err := s.bus.Commit(ctx, ds)
	out := &mmsbv1.CommitResponse{FirstLsn: uint64(info.FirstLSN), LastLsn: uint64(info.LastLSN), Time: info.Time,
		Epochs: make([]uint64, len(ds))}
	for i := range ds {
		out.Epochs[i] = uint64(ds[i].Epoch)
	}
	if err != nil && info.FirstLSN != 0 {
		return nil, committedError(out, s.bus.Stats().Log.DurableLSN, err)
	}
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(out), nil
}

// CommittedLSNsKey carries, as "first-last", the LSNs of a batch that the
// bus logged and applied before the Commit failed (it did not become
// durable, or did not replicate): the caller must not commit it again
// blindly, as readers see it.
const CommittedLSNsKey = "Mmsb-Committed-Lsns"

// committedError is the error of a Commit whose batch was logged and
// applied, then failed (the bus's CommitInfo came with the error; until
// 2026-12-04 it was dropped, and a caller told Unavailable committed the
// batch again: TestCommitFailedAfterLogging). It names the batch in its
// message, a CommitResponse detail and the CommittedLSNsKey header. The
// message says the outcome is uncertain, with durable, the bus's durable
// LSN: the write of the batch may have failed itself (a full disk), or
// its fsync, and it may then be absent after a restart. Until 2026-12-07
// it said the batch "was logged" (TestCommitFailedWriteSaysUncertain).
func committedError(out *mmsbv1.CommitResponse, durable mmsb.LSN, cause error) error {
	err := appliedThenFailed(out, fmt.Errorf("Commit: the batch was applied at LSNs %d..%d (readers may see it), then failed, "+
		"and its outcome is uncertain: it may be absent after a restart (durable up to LSN %d): %w",
		out.GetFirstLsn(), out.GetLastLsn(), durable, cause), cause)
	err.Meta().Set(CommittedLSNsKey, fmt.Sprintf("%d-%d", out.GetFirstLsn(), out.GetLastLsn()))
	return err
}

// appliedThenFailed is the error of a write the bus logged and applied
// before it failed (Commit, CreatePages): msg says so, the code is the
// cause's, and the answer the call would have given rides along as a
// detail, for the client to hand back with the error.
func appliedThenFailed(answer proto.Message, msg, cause error) *connect.Error {
	err := busError(codeFor(cause), msg, cause)
	if d, derr := connect.NewErrorDetail(answer); derr == nil {
		err.AddDetail(d)
	}
	return err
}

// AsOfSlot waits for one of the Config.MaxAsOfReads slots of as-of reads
// and returns its release, or the context's error (canceled or
// deadline_exceeded) when the caller gives up first. The inspector's
// as-of page views take their slot here too (inspector.Options.AsOfSlot),
// so that the bound holds for every replay the HTTP server runs.
//
// It waits rather than refusing with resource_exhausted: an as-of read is
// a legitimate request, and a burst of them is then served in turn
// instead of failing and being retried in a loop. Waiting is cheap, the
// decoded request and a goroutine, both bounded as for any call
// (--max-request-bytes, --max-streams), and not unbounded in time: unary
// calls carry a deadline (the client's, or --timeout's).
func (s *Server) AsOfSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.asOfSlots <- struct{}{}:
	default:
		if h := s.hooks.asOfWaiting; h != nil {
			h()
		}
		select {
		case s.asOfSlots <- struct{}{}:
		case <-ctx.Done():
			return nil, toConnect(fmt.Errorf("as-of read: waiting for one of the %d slots: %w", cap(s.asOfSlots), ctx.Err()))
		}
	}
	if h := s.hooks.asOfStarted; h != nil {
		h()
	}
	return func() { <-s.asOfSlots }, nil
}

// LogQuerySlot takes one of the Config.MaxLogQueries slots of log queries
// and returns its release, or ResourceExhausted naming the bound when all
// are taken. The inspector's log queries take theirs here too
// (inspector.Options.LogQuerySlot).
//
// It refuses rather than waits (as AsOfSlot does): a log query is a
// stream, and streams carry no deadline, so a query waiting behind
// another one that a slow client reads would wait as long as that client
// liked.
func (s *Server) LogQuerySlot() (release func(), err error) {
	if n := s.logQueries.Add(1); n > s.maxLogQueries {
		s.logQueries.Add(-1)
		return nil, busy(connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("log query: %d are running, the most this server allows (Config.MaxLogQueries, --max-log-queries); retry when one ends", s.maxLogQueries)), "--max-log-queries")
	}
	var once sync.Once
	return func() { once.Do(func() { s.logQueries.Add(-1) }) }, nil
}

// onePage returns the page every item names, if they name one.
func onePage(items []*mmsbv1.ReadItem) (mmsb.PageID, bool) {
	if len(items) == 0 {
		return 0, false
	}
	id := items[0].GetPage()
	for _, it := range items[1:] {
		if it.GetPage() != id {
			return 0, false
		}
	}
	return mmsb.PageID(id), true
}

// readOutOfRange is Read's invalid_argument for a range outside its page:
// it wraps mmsb.ErrOutOfRange (errors.Is, and the sentinel named in the
// error's metadata) without the sentinel's text, "write out of page
// range", which a read is not (TestReadOutOfRangeSaysRead).
func readOutOfRange(format string, args ...any) *connect.Error {
	err := outOfRangeRead(fmt.Sprintf(format, args...))
	return busError(connect.CodeInvalidArgument, err, err)
}

// outOfRangeRead is a Read's out-of-range error: its text, wrapping
// mmsb.ErrOutOfRange.
type outOfRangeRead string

func (e outOfRangeRead) Error() string { return string(e) }
func (e outOfRangeRead) Unwrap() error { return mmsb.ErrOutOfRange }

// Read implements mmsbv1connect.BusServiceHandler.
func (s *Server) Read(ctx context.Context, req *connect.Request[mmsbv1.ReadRequest]) (*connect.Response[mmsbv1.ReadResponse], error) {
	items := req.Msg.GetItems()
	if err := checkCount("Read", len(items)); err != nil {
		return nil, err
	}
	asOf := mmsb.LSN(req.Msg.GetAsOfLsn())
	if last := s.bus.LastLSN(); asOf > last {
		// What Bus.ReadPageAt answers (ErrInvalidOption), named as such.
		err := fmt.Errorf("Read: as_of_lsn %d is after the last LSN %d: %w", asOf, last, mmsb.ErrInvalidOption)
		return nil, busError(connect.CodeInvalidArgument, err, err)
	}
	// A range that ends past the largest page size fits no page: refused
	// as such, before the bound on the answer's size would refuse it as
	// too large for one answer (resource_exhausted, which says to ask
	// for less per call).
	for i, it := range items {
		if end := uint64(it.GetOff()) + uint64(it.GetLength()); end > mmsb.MaxPageSize {
			return nil, readOutOfRange("Read: item %d: page %d: range [%d, %d) outside the largest page size %d: read out of page range",
				i, it.GetPage(), it.GetOff(), end, mmsb.MaxPageSize)
		}
	}
	// Each item counts ReadItemCost against the bounds on answer bytes
	// before anything is read (or replayed), besides the bytes it reads
	// (below): an item costs that much memory whatever its length.
	itemsCost := len(items) * ReadItemCost
	if err := holdAnswer(ctx, "Read", itemsCost); err != nil {
		return nil, err
	}
	// Every item of a read as of an LSN comes from one replay to it (a
	// replay per item made a request of 2^20 items as dear as 2^20
	// replays): of that page alone when the items name one page (the
	// common case, and one page of memory), else of the whole bus.
	// readRange copies at most n bytes of a page from off (Bus.ReadPageRange:
	// only the range is copied, so ranges of large pages cost what they
	// return; before, each was cut from a copy of its whole page, and a
	// bound on those copies refused ranges that alternated between pages).
	readRange := s.bus.ReadPageRange
	// pageSize is a page's size, for a whole-page item past its first
	// part (readWhole).
	pageSize := func(b *mmsb.Bus) func(mmsb.PageID) (int, error) {
		return func(id mmsb.PageID) (int, error) {
			p, err := b.Page(id)
			return p.Size, err
		}
	}
	size := pageSize(s.bus)
	// base is what the answer counts before its pages: the items, and a
	// page read as of an LSN (replayCost).
	base, replayCost := itemsCost, 0
	// at is the LSN the answer's state is at: asOf, or the end of the
	// batch holding it (a read as of an LSN inside a batch reads the
	// state at its end, AsOfLSN), answered as the answer's lsn.
	at := asOf
	if asOf != 0 {
		release, err := s.AsOfSlot(ctx)
		if err != nil {
			return nil, err
		}
		defer release() // after the replayed bus is closed (defers run last first)
		if id, ok := onePage(items); ok {
			if at, err = AsOfLSN(ctx, s.bus, asOf); err != nil {
				return nil, toConnect(err)
			}
			// The page as of asOf is a copy of its own, counted before
			// it is made, at the page's size now, then at its own:
			// until 2026-12-07 it was copied first, and a Read refused
			// at the bound had made a copy of up to 16 MiB
			// (TestReadAsOfCountedFirst). A page gone now counts the
			// largest page size first if that fits, else (its size then
			// unknown) it is copied first and counted at its size, at
			// most --max-asof-reads such copies at once: refused for the
			// largest size, a Read of a freed page of 4 KiB was refused
			// beside answers holding all but a few MiB of the bound
			// (TestReadAsOfGonePageServed).
			if n, err := size(id); err == nil {
				if err := holdAnswer(ctx, "Read", n); err != nil {
					return nil, err
				}
				replayCost = n
			} else if tryHoldAnswer(ctx, mmsb.MaxPageSize) {
				replayCost = mmsb.MaxPageSize
			}
			data, epoch, err := s.bus.ReadPageAt(ctx, id, asOf)
			if more := len(data) - replayCost; more > 0 {
				if err := holdAnswer(ctx, "Read", more); err != nil {
					return nil, err
				}
			}
			replayCost = len(data)
			dropAnswer(ctx, itemsCost+replayCost)
			base += replayCost
			readRange = func(_ mmsb.PageID, off, n int, dst []byte) ([]byte, mmsb.Epoch, error) {
				if err != nil {
					return dst, 0, err
				}
				if off > len(data) {
					return dst, 0, fmt.Errorf("%w: offset %d is past the end of page %d (%d bytes)", mmsb.ErrOutOfRange, off, id, len(data))
				}
				return append(dst, data[off:off+min(n, len(data)-off)]...), epoch, nil
			}
			size = func(mmsb.PageID) (int, error) { return len(data), err }
		} else {
			// The bus replayed to asOf holds every page as of asOf: its
			// pages count as the answer's, as a single page's copy does,
			// before it is made at the live pages' bytes, then at its own
			// (more where pages were freed since, made first, at most
			// --max-asof-reads at once); until 2026-12-07 they were not
			// counted at all (TestReadAsOfSeveralPagesCounted).
			live := int(s.bus.Stats().LogicalBytes)
			if err := holdAnswer(ctx, "Read", live); err != nil {
				return nil, err
			}
			r, err := s.bus.Replay(ctx, mmsb.ReplayTarget{ToLSN: asOf})
			if err != nil {
				return nil, toConnect(err)
			}
			defer func() { _ = r.Close() }() // detached, in memory: nothing to lose
			// Where the replay stopped: the end of asOf's batch.
			at = r.LastLSN()
			replayCost = int(r.Stats().LogicalBytes)
			if more := replayCost - live; more > 0 {
				if err := holdAnswer(ctx, "Read", more); err != nil {
					return nil, err
				}
			}
			dropAnswer(ctx, itemsCost+replayCost)
			base += replayCost
			readRange = r.ReadPageRange
			size = pageSize(r)
		}
	}
	out := &mmsbv1.ReadResponse{Pages: make([]*mmsbv1.PageData, 0, len(items))}
	// A live read of several pages is not one snapshot of the bus, so it
	// reports the LSN read before the first page and retries until no
	// commit moved the LSN meanwhile: the pages are then the state at it.
	for attempt := 0; ; attempt++ {
		out.Pages = out.Pages[:0]
		dropAnswer(ctx, base) // the pages of the last attempt are dropped
		held := base          // what the answer counts (holdAnswer) so far
		total := uint64(0)
		lsn := at
		if asOf == 0 {
			lsn = s.bus.LastLSN()
		}
		for i, it := range items {
			if err := ctx.Err(); err != nil {
				return nil, toConnect(err)
			}
			off, n := uint64(it.GetOff()), uint64(it.GetLength())
			var data []byte
			var epoch mmsb.Epoch
			var err error
			if n != 0 {
				// The answer's bound first: a range is copied only if it
				// can still fit, and counted (holdAnswer) before it is.
				if total+n > maxReadBytes {
					return nil, errReadTooLarge()
				}
				if err := holdAnswer(ctx, "Read", int(n)); err != nil {
					return nil, err
				}
				held += int(n)
				data, epoch, err = readRange(mmsb.PageID(it.GetPage()), int(off), int(n), nil)
			} else {
				data, epoch, held, err = readWhole(ctx, readRange, size, mmsb.PageID(it.GetPage()), int(off), maxReadBytes-int(total), held)
			}
			// Out of range is the bus's ErrOutOfRange, named in the
			// error's metadata as every bus error is (until 2026-12-06
			// only in the text: errors.Is(err, mmsb.ErrOutOfRange) was
			// false on the client, TestReadErrorsNameSentinels).
			if errors.Is(err, mmsb.ErrOutOfRange) {
				// The bus's detail without the sentinel's own text.
				detail := strings.TrimPrefix(err.Error(), mmsb.ErrOutOfRange.Error())
				return nil, readOutOfRange("Read: item %d: page %d: range [%d, %d) outside its bytes: read out of page range%s", i, it.GetPage(), off, off+n, detail)
			}
			if err != nil {
				return nil, toConnect(err)
			}
			if n != 0 && uint64(len(data)) < n {
				return nil, readOutOfRange("Read: item %d: page %d: range [%d, %d) outside its %d bytes: read out of page range",
					i, it.GetPage(), off, off+n, off+uint64(len(data)))
			}
			total += uint64(len(data))
			out.Pages = append(out.Pages, &mmsbv1.PageData{Page: it.GetPage(), Off: uint32(off), Data: data, Epoch: uint64(epoch)})
		}
		if asOf != 0 || s.bus.LastLSN() == lsn || attempt >= 8 {
			out.Lsn = uint64(lsn)
			if asOf == 0 && s.bus.LastLSN() != lsn {
				return nil, connect.NewError(connect.CodeAborted, errors.New("Read: pages kept changing; retry or read as of an LSN"))
			}
			// The page as of asOf is dropped with the handler: the
			// answer holds its own copies of it, counted.
			if replayCost > 0 {
				dropAnswer(ctx, held-replayCost)
			}
			return connect.NewResponse(out), nil
		}
		if err := ctx.Err(); err != nil {
			return nil, toConnect(err)
		}
	}
}

// wholeReadChunk is the most a whole-page Read item reads (and counts)
// of its page before it asks for the page's size: a page of less is read
// at once, and the description of a larger one (Bus.Page, which copies
// its metadata of up to 64 KiB) costs no more than its first part.
const wholeReadChunk = 64 << 10

// errReadTooLarge is the error of a Read whose items add up to more than
// maxReadBytes.
func errReadTooLarge() error {
	return connect.NewError(connect.CodeResourceExhausted,
		errorf("Read: the items add up to more than %d bytes; read fewer pages or ranges per call", maxReadBytes))
}

// readWhole reads page id from off to its end with readRange, at most
// room bytes (more is errReadTooLarge's error), each part counted against
// the bounds on answer bytes (holdAnswer) before it is copied: a first
// part of wholeReadChunk, then, if the page goes on, the rest as its size
// (size) says. held is what the answer counted before; the result's is
// what it counts with the page, the unused rest of the first part given
// back. Until 2026-12-07 a whole page was copied, up to 16 MiB, before it
// was counted, so that a Read refused at the bound had made that copy
// (TestReadWholePageCountedFirst). A commit between the two parts of a
// live read moves the last LSN, and Read reads its items again.
func readWhole(ctx context.Context, readRange func(mmsb.PageID, int, int, []byte) ([]byte, mmsb.Epoch, error),
	size func(mmsb.PageID) (int, error), id mmsb.PageID, off, room, held int) (data []byte, epoch mmsb.Epoch, _ int, err error) {
	// One byte past the room tells a page that does not fit.
	c := min(wholeReadChunk, room+1)
	if err := holdAnswer(ctx, "Read", c); err != nil {
		return nil, 0, held, err
	}
	held += c
	if data, epoch, err = readRange(id, off, c, nil); err != nil {
		return nil, 0, held, err
	}
	if len(data) < c {
		// The page's end: what the part did not use is given back.
		held -= c - len(data)
		dropAnswer(ctx, held)
		return data, epoch, held, nil
	}
	if len(data) > room {
		return nil, 0, held, errReadTooLarge()
	}
	// A page freed, or recreated smaller, since a part was read is no
	// error of the item's: the first part is the answer, and the last
	// LSN moved (a live read; a read as of an LSN sees no change), so
	// Read reads its items again, not invalid_argument (its range
	// "outside its bytes") or not_found, which a page read in one part
	// never was (TestReadWholeChangedBetweenParts).
	changed := func(err error) bool {
		return errors.Is(err, mmsb.ErrPageNotFound) || errors.Is(err, mmsb.ErrOutOfRange)
	}
	n, err := size(id)
	if changed(err) {
		return data, epoch, held, nil
	}
	if err != nil {
		return nil, 0, held, err
	}
	rest := n - off - len(data)
	if rest <= 0 {
		// The page ends with the first part (or is smaller now).
		return data, epoch, held, nil
	}
	if len(data)+rest > room {
		return nil, 0, held, errReadTooLarge()
	}
	if err := holdAnswer(ctx, "Read", rest); err != nil {
		return nil, 0, held, err
	}
	held += rest
	whole, last, err := readRange(id, off+len(data), rest, data)
	if changed(err) {
		return data, epoch, held, nil
	}
	if err != nil {
		return nil, 0, held, err
	}
	return whole, last, held, nil
}

// ListPages implements mmsbv1connect.BusServiceHandler.
func (s *Server) ListPages(ctx context.Context, req *connect.Request[mmsbv1.ListPagesRequest]) (*connect.Response[mmsbv1.ListPagesResponse], error) {
	// Capped as a uint32 first: on a 32-bit platform int(limit) of 2^31
	// or more was negative, and the answer listed no page
	// (TestLimitsAtUint32Max).
	limit := int(min(req.Msg.GetLimit(), maxListLimit))
	if limit == 0 {
		limit = defaultListLimit
	}
	ids, err := s.bus.PageIDs()
	if err != nil {
		return nil, toConnect(err)
	}
	after := mmsb.PageID(req.Msg.GetAfterId())
	i, _ := searchIDs(ids, after)
	out := &mmsbv1.ListPagesResponse{Total: uint64(len(ids))}
	// The answer also stops at maxListBytes: 10,000 pages of 64 KiB of
	// metadata made one of 640 MiB, and from 2,000 such pages on the Go
	// client (which reads at most client.DefaultReadMaxBytes) could never
	// list them: PageIDs failed with resource_exhausted on every try
	// until 2026-12-06 (TestListPagesAnswerBound).
	size := 0
	for ; i < len(ids) && len(out.Pages) < limit; i++ {
		pi, err := s.bus.Page(ids[i])
		if errors.Is(err, mmsb.ErrPageNotFound) {
			continue // freed since PageIDs
		}
		if err != nil {
			return nil, toConnect(err)
		}
		p := &mmsbv1.PageInfo{Id: uint64(pi.ID), Size: uint32(pi.Size), Epoch: uint64(pi.Epoch),
			LastLsn: uint64(pi.LastLSN), Flags: uint32(pi.Flags), Meta: wire.MetaToProto(pi.Meta), Derived: pi.Derived}
		n := proto.Size(p) + 8 // and its field's tag and length
		if len(out.Pages) > 0 && size+n > maxListBytes {
			break // the next answer starts with it
		}
		size += n
		out.Pages = append(out.Pages, p)
	}
	if i < len(ids) && len(out.Pages) > 0 {
		out.NextAfterId = out.Pages[len(out.Pages)-1].Id
	}
	if err := holdAnswer(ctx, "ListPages", size+len(out.Pages)*ListPageCost); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

// searchIDs returns the index of the first ID > after.
func searchIDs(ids []mmsb.PageID, after mmsb.PageID) (int, bool) {
	lo, hi := 0, len(ids)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ids[m] <= after {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(ids)
}

// QueryLog implements mmsbv1connect.BusServiceHandler.
func (s *Server) QueryLog(ctx context.Context, req *connect.Request[mmsbv1.QueryLogRequest], stream *connect.ServerStream[mmsbv1.QueryLogResponse]) error {
	m := req.Msg
	q, err := logQuery(m)
	if err != nil {
		return err
	}
	release, err := s.LogQuerySlot()
	if err != nil {
		return err
	}
	defer release()
	// As an int64: on a 32-bit platform int(limit) of 2^31 or more was
	// negative, and the query stopped after one operation
	// (TestLimitsAtUint32Max).
	limit := int64(m.GetLimit())
	// A message holds at most chunk operations and, beyond its last one,
	// stepBytes of their data (256 deltas of 16 MiB would not fit a
	// message's 4 GiB frame; until 2026-12-06 only delta data counted, and
	// 140 bindings with 1 MiB of params each made one message of 147 MB,
	// which the Go client could never read: TestQueryLogMessageSizeAllKinds).
	const chunk = 256
	var batch []*mmsbv1.Op
	var sendErr error
	var sent mmsb.LSN // the last LSN sent
	n, size := 0, 0
	// The answer never carries a derived write's parent reads (OpToProto
	// sends none): the bus passes over them rather than decode 2^16 of
	// them, 1 MiB, for each write of a page of 2^16 parents
	// (TestLogReadsSkipParentReads).
	err = s.bus.QueryLog(logquery.WithoutParentReads(ctx), q, func(lo *mmsb.LoggedOp) bool {
		if h := s.hooks.queryLogOp; h != nil {
			h(ctx)
		}
		if ctx.Err() != nil {
			return false // a record's operations are not checked between
		}
		batch = append(batch, wire.OpToProto(lo))
		n++
		size += opBytes(lo.Op)
		if len(batch) == chunk || size >= stepBytes {
			if sendErr = stream.Send(&mmsbv1.QueryLogResponse{Ops: batch}); sendErr != nil {
				return false
			}
			sent = lo.LSN
			batch, size = nil, 0
		}
		return limit == 0 || int64(n) < limit
	})
	if errors.Is(context.Cause(ctx), errCutShort) {
		// Shutdown ended the query (cutQueries); a send it cut fails
		// with the stream, whose end then cannot be written either.
		where := "before any operation was sent"
		if sent != 0 {
			where = fmt.Sprintf("after the operation at LSN %d (resume from LSN %d)", sent, sent+1)
		}
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("QueryLog: %w: the query was cut short %s; retry after the restart or on another server", errCutShort, where))
	}
	if sendErr != nil {
		return sendErr
	}
	if err == nil {
		// The callback stops at the context's end between a record's
		// operations, where the bus's query returns nil: the answer is
		// not whole, and must not end as if it were.
		err = ctx.Err()
	}
	if err != nil {
		return toConnect(err)
	}
	if len(batch) > 0 {
		return stream.Send(&mmsbv1.QueryLogResponse{Ops: batch})
	}
	return nil
}

// opBytes is the size of the variable-length data QueryLog sends for op:
// that of its kind only (wire.OpToProto's fields; the log reader leaves
// other kinds' fields as they were).
func opBytes(op *mmsb.Op) int {
	n := 0
	switch op.Kind {
	case mmsb.OpDelta, mmsb.OpDerived:
		return deltaBytes(&op.Delta)
	case mmsb.OpCreatePage, mmsb.OpSetMeta:
		for _, m := range op.Meta {
			n += len(m.Key) + len(m.Value)
		}
	case mmsb.OpBind:
		n = len(op.Func) + len(op.Params) + 8*len(op.Parents)
	}
	return n
}

// logQuery is the bus's query for a QueryLog request. Its kinds filter
// holds each kind once, in the order first named: the bus compares every
// operation it reads with every kind listed, so a request naming "delta"
// a million times (7 bytes each, well within --max-request-bytes) made
// each operation cost a million comparisons, and one query over a log of
// a thousand operations took seconds of the server's CPU
// (TestQueryLogKindsOnce). An unknown kind is refused naming its index,
// quoted only in part: the message is logged and sent back.
func logQuery(m *mmsbv1.QueryLogRequest) (mmsb.LogQuery, error) {
	q := mmsb.LogQuery{Page: mmsb.PageID(m.GetPage()), FromLSN: mmsb.LSN(m.GetFromLsn()), ToLSN: mmsb.LSN(m.GetToLsn()),
		FromTime: m.GetFromTime(), ToTime: m.GetToTime(), Source: m.GetSource()}
	for i, k := range m.GetKinds() {
		kind, ok := wire.OpKinds[k]
		if !ok {
			return q, invalid("QueryLog: kinds[%d]: unknown operation kind %s", i, quoteShort(k))
		}
		if !slices.Contains(q.Kinds, kind) {
			q.Kinds = append(q.Kinds, kind)
		}
	}
	return q, nil
}

// quoteShort quotes s as %q does, cut to its first 64 bytes (at a
// character boundary) when it is longer: for a value from the request in
// an error message, which the server also logs.
func quoteShort(s string) string {
	const most = 64
	if len(s) <= most {
		return strconv.Quote(s)
	}
	n := most
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:n], len(s))
}

// Provenance implements mmsbv1connect.BusServiceHandler.
func (s *Server) Provenance(ctx context.Context, req *connect.Request[mmsbv1.ProvenanceRequest]) (*connect.Response[mmsbv1.ProvenanceResponse], error) {
	m := req.Msg
	// A provenance query reads the log where the bus's history ring no
	// longer holds the chain (a scan of every segment, at worst for each
	// of its writes), as QueryLog does: it takes one of the same slots,
	// as the inspector's Provenance does. Until 2026-12-06 it took none,
	// and read-role clients could run any number at once
	// (TestProvenanceTakesALogQuerySlot).
	release, err := s.LogQuerySlot()
	if err != nil {
		return nil, err
	}
	defer release()
	// The range is checked here, as sent: on a 32-bit platform int(off)
	// of 2^31 or more was negative, and the bus's error named a range the
	// caller never sent ("[-16, -16+32)": TestBadInput under GOARCH=386).
	if end := uint64(m.GetOff()) + uint64(m.GetLength()); end > mmsb.MaxPageSize {
		err := fmt.Errorf("%w: provenance range [%d, %d+%d) of page %d is past the largest page size %d",
			mmsb.ErrOutOfRange, m.GetOff(), m.GetOff(), m.GetLength(), m.GetPage(), mmsb.MaxPageSize)
		return nil, busError(connect.CodeInvalidArgument, err, err)
	}
	r, err := s.bus.Provenance(ctx, mmsb.PageID(m.GetPage()), int(m.GetOff()), int(m.GetLength()), int(m.GetDepth()))
	if err != nil {
		return nil, toConnect(err)
	}
	out := &mmsbv1.ProvenanceResponse{Truncated: r.Truncated}
	// The answer stops at maxListBytes, truncated, as ListPages does: it
	// lists up to mmsb.MaxProvenanceWrites writes, each with its delta's
	// intent and source (as large as a request), and 4,096 of them made
	// answers of gigabytes that the Go client (which reads at most
	// client.DefaultReadMaxBytes) refused whole (TestProvenanceAnswerBound).
	// The writes kept are a prefix of the list: each one's Parent comes
	// before it, so every index they hold still names one of them. The
	// first write is always sent.
	size := 0
	for _, w := range r.Writes {
		kind := ""
		if w.Kind != 0 {
			kind = w.Kind.String()
		}
		pw := &mmsbv1.ProvenanceWrite{Page: uint64(w.Page), Lsn: uint64(w.LSN), Kind: kind, Lo: w.Lo, Hi: w.Hi,
			Derived: w.Derived, Source: wire.ValidText(w.Source), Intent: wire.Clone(w.Intent), Time: w.Time, Depth: int32(w.Depth), Parent: int32(w.Parent), Lost: w.Lost}
		n := proto.Size(pw) + 8 // and its field's tag and length
		// The first write goes whatever its size (an intent may take up
		// to a log record, 256 MiB): the client decides what it reads. A
		// Go client at its default read limit refuses it naming the call
		// and the limit to raise; one that raised it reads it. Refusing
		// it here (server.ErrAnswerTooLarge, 2026-12-06) left no client
		// a way to read it (TestProvenanceFirstWriteSentWhole).
		if len(out.Writes) > 0 && size+n > maxListBytes {
			out.Truncated = true
			break
		}
		size += n
		out.Writes = append(out.Writes, pw)
	}
	if err := holdAnswer(ctx, "Provenance", size); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

// AddEdge implements mmsbv1connect.BusServiceHandler.
func (s *Server) AddEdge(ctx context.Context, req *connect.Request[mmsbv1.AddEdgeRequest]) (*connect.Response[mmsbv1.AddEdgeResponse], error) {
	if err := holdWrite(ctx, "AddEdge", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	if err := s.beginWrite("AddEdge"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	t, err := wire.EdgeTypeFromProto(req.Msg.GetType())
	if err == nil {
		err = s.bus.AddEdge(ctx, mmsb.PageID(req.Msg.GetParent()), mmsb.PageID(req.Msg.GetChild()), t)
	}
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&mmsbv1.AddEdgeResponse{}), nil
}

// RemoveEdge implements mmsbv1connect.BusServiceHandler.
func (s *Server) RemoveEdge(ctx context.Context, req *connect.Request[mmsbv1.RemoveEdgeRequest]) (*connect.Response[mmsbv1.RemoveEdgeResponse], error) {
	if err := holdWrite(ctx, "RemoveEdge", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	if err := s.beginWrite("RemoveEdge"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	parent, child := mmsb.PageID(req.Msg.GetParent()), mmsb.PageID(req.Msg.GetChild())
	var err error
	if req.Msg.GetAllTypes() {
		err = s.bus.RemoveEdges(ctx, parent, child)
	} else {
		var t mmsb.EdgeType
		if t, err = wire.EdgeTypeFromProto(req.Msg.GetType()); err == nil {
			err = s.bus.RemoveEdge(ctx, parent, child, t)
		}
	}
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&mmsbv1.RemoveEdgeResponse{}), nil
}

// Bind implements mmsbv1connect.BusServiceHandler.
func (s *Server) Bind(ctx context.Context, req *connect.Request[mmsbv1.BindRequest]) (*connect.Response[mmsbv1.BindResponse], error) {
	if err := holdWrite(ctx, "Bind", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	m := req.Msg
	parents := make([]mmsb.PageID, len(m.GetParents()))
	for i, p := range m.GetParents() {
		parents[i] = mmsb.PageID(p)
	}
	if err := s.beginWrite("Bind"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	if err := s.bus.Bind(ctx, mmsb.PageID(m.GetChild()), m.GetFunc(), m.GetParams(), parents); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&mmsbv1.BindResponse{}), nil
}

// Unbind implements mmsbv1connect.BusServiceHandler.
func (s *Server) Unbind(ctx context.Context, req *connect.Request[mmsbv1.UnbindRequest]) (*connect.Response[mmsbv1.UnbindResponse], error) {
	if err := holdWrite(ctx, "Unbind", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	if err := s.beginWrite("Unbind"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	if err := s.bus.Unbind(ctx, mmsb.PageID(req.Msg.GetChild())); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&mmsbv1.UnbindResponse{}), nil
}

// Submit implements mmsbv1connect.BusServiceHandler.
func (s *Server) Submit(ctx context.Context, req *connect.Request[mmsbv1.SubmitRequest]) (*connect.Response[mmsbv1.SubmitResponse], error) {
	if err := holdWrite(ctx, "Submit", proto.Size(req.Msg)); err != nil {
		return nil, err
	}
	if s.orch == nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("Submit: the server runs no ticks (start it with --ticks)"))
	}
	ds, err := s.deltas("Submit", req.Msg.GetDeltas(), "", nil)
	if err != nil {
		return nil, err
	}
	if err := s.beginWrite("Submit"); err != nil {
		return nil, err
	}
	defer s.endWrite()
	// All or nothing (tick.Orchestrator.SubmitBatch): a failed Submit queued
	// none of its deltas, so the caller may send it again as is. Before, the
	// deltas went in one at a time, and those before a failure stayed queued
	// and were committed twice by a retry (TestSubmitAllOrNothing).
	if err := s.orch.SubmitBatch(ctx, ds); err != nil {
		// A batch over the queue's capacity (tick.ErrBatchTooLarge) is
		// ErrInvalidOption: InvalidArgument, as retrying cannot help.
		return nil, busError(codeFor(err), fmt.Errorf("Submit: none of %d deltas accepted: %w", len(ds), err), err)
	}
	return connect.NewResponse(&mmsbv1.SubmitResponse{Accepted: uint32(len(ds))}), nil
}

// Checkpoint implements mmsbv1connect.BusServiceHandler.
func (s *Server) Checkpoint(ctx context.Context, _ *connect.Request[mmsbv1.CheckpointRequest]) (*connect.Response[mmsbv1.CheckpointResponse], error) {
	ctx, done, err := s.beginLong(ctx, "Checkpoint")
	if err != nil {
		return nil, err
	}
	defer done()
	info, err := s.bus.Checkpoint(ctx)
	if err != nil {
		return nil, longError(ctx, "Checkpoint", err)
	}
	return connect.NewResponse(&mmsbv1.CheckpointResponse{Lsn: uint64(info.LSN), Pages: uint32(info.Pages), Bytes: info.Bytes,
		SegmentsRemoved: uint32(info.SegmentsRemoved)}), nil
}

// Stats implements mmsbv1connect.BusServiceHandler. The state hash is
// computed only when asked for: it hashes every page under the bus's read
// lock, which on a large bus is slow and holds writers back, and most
// callers (LastLSN, probes) want only the counters.
//
// The hash is the state's at the answer's last_lsn: Bus.StatsWithHash
// reads both under one hold of the lock. Until 2026-12-04 a commit between
// two separate reads paired the counters of one LSN with the hash of a
// later state (TestStatsHashMatchesLSN), and the retry loop that fixed it
// answered Aborted while commits kept landing.
func (s *Server) Stats(ctx context.Context, req *connect.Request[mmsbv1.StatsRequest]) (*connect.Response[mmsbv1.StatsResponse], error) {
	var st mmsb.Stats
	var hash uint64
	if req.Msg.GetStateHash() {
		// One hash at a time, the others waiting for their deadline, as
		// as-of reads wait for theirs: each reads every page under the
		// bus's read lock, and until 2026-12-06 a read-role client asking
		// for it over many connections at once took every core, with each
		// commit waiting behind all the hashes in flight
		// (TestStatsHashOneAtATime).
		select {
		case s.hashSlot <- struct{}{}:
		default:
			if h := s.hooks.statsWaiting; h != nil {
				h()
			}
			select {
			case s.hashSlot <- struct{}{}:
			case <-ctx.Done():
				return nil, toConnect(fmt.Errorf("Stats: waiting for the state hash another call is computing: %w", ctx.Err()))
			}
		}
		defer func() { <-s.hashSlot }()
		if h := s.hooks.statsHashing; h != nil {
			h()
		}
		var err error
		if st, hash, err = s.bus.StatsWithHash(); err != nil {
			return nil, toConnect(err)
		}
	} else {
		st = s.bus.Stats()
	}
	return connect.NewResponse(&mmsbv1.StatsResponse{Pages: uint64(st.Pages), LogicalBytes: st.LogicalBytes, LastLsn: uint64(st.LastLSN),
		DurableLsn: uint64(st.Log.DurableLSN), OldestLsn: uint64(st.Log.OldestLSN), SyncMode: st.SyncMode, Checkpoints: st.Checkpoints,
		LastCheckpoint: uint64(st.LastCheckpoint), Edges: uint64(st.Edges), Bindings: uint64(st.Bindings), StateHash: hash,
		InMemory: st.InMemory, Watchers: uint64(s.Watchers())}), nil
}

// VerifyReplay implements mmsbv1connect.BusServiceHandler.
func (s *Server) VerifyReplay(ctx context.Context, req *connect.Request[mmsbv1.VerifyReplayRequest]) (*connect.Response[mmsbv1.VerifyReplayResponse], error) {
	ctx, done, err := s.beginLong(ctx, "VerifyReplay")
	if err != nil {
		return nil, err
	}
	defer done()
	r, err := s.bus.VerifyReplay(ctx, req.Msg.GetFromNewestCheckpoint())
	if err != nil {
		return nil, longError(ctx, "VerifyReplay", err)
	}
	return connect.NewResponse(&mmsbv1.VerifyReplayResponse{Lsn: uint64(r.LSN), LiveHash: r.LiveHash, ReplayHash: r.ReplayHash,
		Pages: uint32(r.Pages), PagesDiffering: uint32(r.PagesDiffering), GraphEqual: r.GraphEqual, Differences: r.Differences,
		Ok: r.PagesDiffering == 0 && r.GraphEqual && r.LiveHash == r.ReplayHash}), nil
}
