package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
	"github.com/mmsb-go/mmsb/internal/wire"
)

// ErrCompacted means a watch asked for changes the server's log no longer
// holds (a checkpoint removed them). The error is a *CompactedError.
var ErrCompacted = errors.New("client: watch start was compacted away")

// CompactedError says where the server's log now starts. The recipe:
// read the pages (their Read LSN is L), then watch from L+1.
type CompactedError struct {
	RequestedLSN mmsb.LSN // the first LSN the watch asked for
	OldestLSN    mmsb.LSN // the oldest LSN the log holds (0: the server did not say)
	Err          error    // the server's error
}

// Error names both LSNs.
func (e *CompactedError) Error() string {
	return fmt.Sprintf("client: watch from LSN %d: compacted, the log starts at LSN %d", e.RequestedLSN, e.OldestLSN)
}

// Is makes errors.Is(err, ErrCompacted) hold.
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

// Unwrap returns the server's error.
func (e *CompactedError) Unwrap() error { return e.Err }

// WatchOptions select what a watch delivers.
type WatchOptions struct {
	// FromLSN is the first LSN delivered; 0: the oldest LSN the server's
	// log holds when the watch starts, as mmsb.LogQuery's FromLSN 0 (1 is
	// LSN 1: a *CompactedError once a checkpoint removed it; a server
	// before 2026-12-07 takes 0 for 1 too).
	FromLSN mmsb.LSN
	// Pages and Ranges (inclusive [first, last] pairs) select pages;
	// both empty: every page.
	Pages  []mmsb.PageID
	Ranges [][2]mmsb.PageID
	// Progress is the interval of progress events (0: the server's; the
	// server raises it to at least 10 ms; negative: ErrInvalidOption).
	Progress time.Duration
	// MaxReconnects bounds consecutive failed reconnections (0: 10;
	// negative: ErrInvalidOption). A stream ended before it delivered a
	// change or a message after the server's opening progress message
	// counts as failed.
	MaxReconnects int
	// SilenceTimeout is how long a stream may bring no bytes (neither a
	// message nor part of one: a large message arriving slowly is not
	// silence) before the client takes the connection for dead (a hung
	// server, or a half-open connection nothing will ever close): it
	// drops the stream and resumes from the LSN after the last change
	// delivered, as after any drop; once reconnections run out, Watch
	// returns an error wrapping ErrWatchSilent. The server sends a
	// progress message at least every progress interval and says so in
	// a response header; the bound is never below three such intervals,
	// so that an idle watch is not dropped (until that header comes,
	// three of the intervals asked for in Progress, or of the server's
	// default, 1 s, when Progress is 0). A server that does not say
	// so (before 2026-12-06) is watched for its opening message only.
	// 0: DefaultSilenceTimeout; negative: no watchdog. The time fn
	// takes does not count.
	SilenceTimeout time.Duration
}

// DefaultSilenceTimeout is WatchOptions.SilenceTimeout's default: ten
// progress intervals of the server's default (1 s), long enough for a
// loaded server catching up on a long log.
const DefaultSilenceTimeout = 10 * time.Second

// ErrWatchSilent means a watch stream brought no message for longer than
// its silence bound (WatchOptions.SilenceTimeout): the connection was
// taken for dead.
var ErrWatchSilent = errors.New("client: watch stream silent")

// progressMsHeader is the response header in which the server gives a
// Watch stream's progress interval in milliseconds (server.ProgressMsKey).
const progressMsHeader = "Mmsb-Progress-Ms"

// Change is one committed operation on a watched page. Kind mmsb.OpWave,
// the end of a propagation wave's record, comes at Page 0 with no Delta
// (the wire does not carry its page sets), to a watch of every page or of
// a selection that holds page 0 (TestWatchAndQueryLogDeliverWave).
type Change struct {
	LSN  mmsb.LSN    // the operation's LSN
	Page mmsb.PageID // the page it changed (an edge's child; 0 for OpWave)
	Kind mmsb.OpKind
	// Delta is set for OpDelta and OpDerived, and only for them, with
	// Delta.Page equal to Page (a server answer otherwise is refused with
	// ErrBadResponse); its Epoch is the page's epoch after it (0 only when
	// the server could not know it: docs/server.md, "Epochs").
	Delta *mmsb.Delta
	Time  int64 // commit time, ns since the Unix epoch
}

// WatchEvent is what a watch delivers: changes in LSN order (possibly
// none), and ProgressLSN, the LSN up to which everything has been
// delivered.
type WatchEvent struct {
	Changes     []Change
	ProgressLSN mmsb.LSN
}

// Watch streams every durable change from opts.FromLSN on to fn, until
// fn returns an error (returned), ctx ends (its error; after a failed
// try, an error wrapping both it and the server's last answer, as the
// package doc says of retries), Close ends the client (an
// error wrapping mmsb.ErrClosed), the server says the start
// was compacted (a *CompactedError), or it sends a change the client
// cannot decode (an error wrapping mmsb.ErrInvalidDelta, or ErrBadResponse
// for an unknown kind, changes out of LSN order or of a page the watch
// does not select, naming the LSN; nothing
// of that message is delivered). A dropped stream, or a server
// shutting down, is resumed from the LSN after the last change delivered:
// fn sees no gap and no duplicate; so is a stream silent for longer than
// WatchOptions.SilenceTimeout (a hung server or a half-open connection),
// and when reconnections run out the error wraps ErrWatchSilent. A nil
// fn, a negative Progress or MaxReconnects are refused with
// mmsb.ErrInvalidOption; a selection the server cannot serve (a range
// whose first page is above its last) with its InvalidArgument error.
// A refusal at one of the server's bounds on work in flight (an error
// wrapping ErrServerBusy: --max-requests, --max-watchers, ...) is retried
// with backoff like a dropped stream, counting against MaxReconnects;
// when they run out the error wraps ErrServerBusy.
// fn runs on the caller's goroutine, one event at a time.
func (c *Client) Watch(ctx context.Context, opts WatchOptions, fn func(WatchEvent) error) error {
	if err := nilContext(ctx, "Watch"); err != nil {
		return err
	}
	ms, err := progressMs(opts.Progress)
	if err != nil {
		return err
	}
	if fn == nil {
		return fmt.Errorf("%w: client: Watch with a nil function", mmsb.ErrInvalidOption)
	}
	if opts.MaxReconnects < 0 {
		return fmt.Errorf("%w: client: watch MaxReconnects %d is negative", mmsb.ErrInvalidOption, opts.MaxReconnects)
	}
	if err := c.errIfClosed("Watch"); err != nil {
		return err
	}
	req := &mmsbv1.WatchRequest{ProgressMs: ms}
	for _, p := range opts.Pages {
		req.Pages = append(req.Pages, uint64(p))
	}
	for _, r := range opts.Ranges {
		req.Ranges = append(req.Ranges, &mmsbv1.PageRange{First: uint64(r[0]), Last: uint64(r[1])})
	}
	maxFails := opts.MaxReconnects
	if maxFails <= 0 {
		maxFails = 10
	}
	// The first LSN not yet delivered; 0 until the server's opening
	// message says where its log starts (its progress LSN + 1). It was
	// taken for 1 until 2026-12-07: a compacted error on a log a
	// checkpoint had trimmed (TestWatchFromZeroCompactedLog).
	next := opts.FromLSN
	fails := 0
	wait := c.backoff
	silence := opts.SilenceTimeout
	if silence == 0 {
		silence = DefaultSilenceTimeout
	}
	opening := openingSilence(silence, ms)
	sel := newSelection(opts.Pages, opts.Ranges)
	for {
		req.FromLsn = uint64(next)
		progressed, err := c.watchOnce(ctx, req, &next, opening, silence, sel, fn)
		// fn's error (or a change the client cannot decode) first: a
		// function that cancels ctx and returns its own error got the
		// internal wrapper, which unwraps to nothing, until 2026-12-06
		// (TestWatchFnErrorAfterCancel).
		var ue *stopError
		if errors.As(err, &ue) {
			return ue.err
		}
		if err != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			// ctx ended just as the server answered: both, as below.
			return fmt.Errorf("client: watch: %w, after %d tries: %w", ctx.Err(), fails+1, err)
		}
		if err == nil || ctx.Err() != nil {
			return err
		}
		if c.closed.Err() != nil {
			return fmt.Errorf("client: watch ended by Close: %w (%w)", mmsb.ErrClosed, err)
		}
		if connect.CodeOf(err) == connect.CodeOutOfRange {
			ce := &CompactedError{RequestedLSN: next, Err: err}
			// next is 0 only when the server refused the opening
			// message: it says which LSN it took 0 for.
			var cerr *connect.Error
			if errors.As(err, &cerr) {
				for _, d := range cerr.Details() {
					if m, derr := d.Value(); derr == nil {
						if wc, ok := m.(*mmsbv1.WatchCompacted); ok {
							ce.OldestLSN = mmsb.LSN(wc.GetOldestLsn())
							if ce.RequestedLSN == 0 {
								ce.RequestedLSN = mmsb.LSN(wc.GetRequestedLsn())
							}
						}
					}
				}
			}
			return ce
		}
		// A refusal at one of the server's bounds on work in flight
		// (ErrServerBusy) passes once other calls end: retried with
		// backoff, as a failed reconnection. It ended the watch at once
		// until 2026-12-06 (TestWatchRetriesBusyServer).
		if !resumable(err) && !errors.Is(err, ErrServerBusy) {
			return err
		}
		if progressed {
			fails, wait = 0, c.backoff
		}
		if fails++; fails > maxFails {
			return fmt.Errorf("client: watch: %d reconnections failed: %w", maxFails, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			// Both: the caller's cancellation (errors.Is) and the
			// server's last answer (connect.CodeOf), as the unary calls
			// say it. Until 2026-12-07 only ctx.Err(), the server's
			// answer lost (TestWatchCanceledWhileWaitingSaysWhy).
			return fmt.Errorf("client: watch: %w while waiting to reconnect, after %d tries: %w", ctx.Err(), fails, err)
		case <-c.closed.Done():
			t.Stop()
			return fmt.Errorf("client: watch ended by Close: %w (%w)", mmsb.ErrClosed, err)
		case <-t.C:
		}
		if errors.Is(err, ErrWatchSilent) {
			// Over HTTP/2 the next stream would go on the same
			// connection, the silent one (HTTP/1.1 closes a cancelled
			// request's): close it, idle now that its stream is gone,
			// with the client's other idle ones (TestWatchSilentServer,
			// gRPC). A caller's HTTP client (WithHTTPClient) is left
			// alone.
			c.closeIdle()
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// progressMs is WatchOptions.Progress as progress_ms: rounded up to a
// millisecond (a positive interval never becomes 0, the server's
// default) and capped at what the field holds.
func progressMs(d time.Duration) (uint32, error) {
	if d < 0 {
		return 0, fmt.Errorf("%w: watch progress interval %v is negative", mmsb.ErrInvalidOption, d)
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return uint32(min(ms, math.MaxUint32)), nil
}

// resumable: the stream broke or the server is going away, not a refusal.
func resumable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeUnknown, connect.CodeInternal, connect.CodeCanceled, connect.CodeDeadlineExceeded:
		return true
	}
	return false
}

// stopError ends Watch at once with err: fn's error, or a change the
// client cannot decode.
type stopError struct{ err error }

func (u *stopError) Error() string { return u.err.Error() }

// watchOnce runs one stream, advancing *next past every change delivered.
// A nil error means the server ended the stream cleanly (it never does
// on its own, so it is treated as a drop by the caller's loop). A stream
// silent for longer than its bound (when positive; see
// WatchOptions.SilenceTimeout: opening until the server's opening
// message, then streamSilence of silence) is cut and reported as an
// Unavailable error wrapping ErrWatchSilent, which the caller resumes.
func (c *Client) watchOnce(ctx context.Context, req *mmsbv1.WatchRequest, next *mmsb.LSN, opening, silence time.Duration, sel selection, fn func(WatchEvent) error) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.closed, cancel)() // Close ends the stream
	// The watchdog: armed while the client waits for a message (not
	// while fn runs), it cancels the stream when the wait outlasts the
	// bound. A half-open connection to a hung server otherwise kept
	// Watch waiting until ctx ended (TestWatchSilentServer). Every read
	// of the response that brings bytes re-arms it (withActivity): a
	// large message arriving steadily over a slow link is not silence
	// (TestWatchSlowLargeMessageNotSilent).
	var silent, waiting atomic.Bool
	var bound atomic.Int64 // silence while waiting, as a time.Duration
	dog := time.AfterFunc(time.Hour, func() { silent.Store(true); cancel() })
	dog.Stop()
	defer dog.Stop()
	cur := opening // the bound now: opening until the first message
	arm := func() {
		if cur > 0 {
			bound.Store(int64(cur))
			waiting.Store(true)
			dog.Reset(cur)
		}
	}
	ctx = withActivityFunc(ctx, func() {
		if waiting.Load() {
			dog.Reset(time.Duration(bound.Load()))
		}
	})
	silentErr := func() error {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("%w: nothing from the server for %v: the connection is taken for dead", ErrWatchSilent, cur))
	}
	arm() // the server's opening message comes at once
	stream, err := c.rpc.Watch(ctx, connect.NewRequest(req))
	if err != nil {
		waiting.Store(false)
		dog.Stop()
		if silent.Load() {
			return false, silentErr()
		}
		return false, withSentinels(lostConnection(ctx, err))
	}
	defer func() { _ = stream.Close() }()
	// The server opens every watch with a progress message, and a server
	// whose bus failed ends the watch right after it: only a change, or a
	// message after the opening one, shows that the watch was up, and
	// counts the reconnection failures afresh. Counting the opening
	// message made the client reconnect to such a server without end
	// (TestWatchClientGivesUpOnFailedBus).
	// (A watch from 0 learns its first LSN from the opening message:
	// not a change delivered.)
	received, delivered := 0, false
	progressed := func() bool { return received > 1 || delivered }
	for stream.Receive() {
		waiting.Store(false)
		dog.Stop()
		received++
		if received == 1 {
			cur = streamSilence(stream.ResponseHeader().Get(progressMsHeader), silence)
		}
		ev, nx, err := watchEvent(stream.Msg(), *next)
		if err == nil {
			err = sel.check(ev.Changes)
		}
		if err != nil {
			return progressed(), &stopError{err}
		}
		if err := fn(ev); err != nil {
			return progressed(), &stopError{err}
		}
		*next = nx
		delivered = delivered || len(ev.Changes) > 0
		arm()
	}
	waiting.Store(false)
	dog.Stop()
	if silent.Load() {
		return progressed(), silentErr()
	}
	if err := stream.Err(); err != nil {
		return progressed(), c.readLimitError("Watch", withSentinels(lostConnection(ctx, err)))
	}
	return progressed(), connect.NewError(connect.CodeUnavailable, errors.New("watch stream ended"))
}

// openingSilence is a stream's silence bound until the server's opening
// message, whose headers give the progress interval (progress_ms ms asked
// for, which the server raises to at least 10 ms; 0: the server's
// default, 1 s): at least three of the intervals asked for, as after it.
// The bare bound was used until 2026-12-07: a SilenceTimeout of 1 ms
// failed every try of a healthy server with ErrWatchSilent
// (TestWatchSmallSilenceTimeoutFloored). silence <= 0 stays off.
func openingSilence(silence time.Duration, progressMs uint32) time.Duration {
	if silence <= 0 {
		return silence
	}
	interval := time.Second
	if progressMs > 0 {
		interval = max(time.Duration(progressMs)*time.Millisecond, 10*time.Millisecond)
	}
	return max(silence, 3*interval)
}

// streamSilence is a stream's silence bound once its headers are in:
// with the server's progress interval (header value hdr, in
// milliseconds), at least three intervals; without one (a server before
// 2026-12-06, which could be silent while a watch caught up), 0: no
// watchdog for the rest of the stream. silence <= 0 stays off.
func streamSilence(hdr string, silence time.Duration) time.Duration {
	ms, err := strconv.ParseUint(hdr, 10, 32)
	if silence <= 0 || err != nil || ms == 0 {
		return 0
	}
	return max(silence, 3*time.Duration(ms)*time.Millisecond)
}

// selection is a watch's page selection (WatchOptions.Pages and Ranges),
// sorted for lookups; empty: every page.
type selection struct {
	all    bool             // neither pages nor ranges given
	pages  []mmsb.PageID    // sorted
	ranges [][2]mmsb.PageID // sorted by first page, merged where they overlap or touch
}

func newSelection(pages []mmsb.PageID, ranges [][2]mmsb.PageID) selection {
	s := selection{all: len(pages) == 0 && len(ranges) == 0, pages: slices.Clone(pages)}
	slices.Sort(s.pages)
	rs := slices.Clone(ranges)
	slices.SortFunc(rs, func(a, b [2]mmsb.PageID) int { return cmp.Compare(a[0], b[0]) })
	for _, r := range rs {
		if r[0] > r[1] {
			continue // selects nothing (the server refuses it)
		}
		if n := len(s.ranges); n > 0 && (r[0] <= s.ranges[n-1][1] || r[0]-1 == s.ranges[n-1][1]) {
			s.ranges[n-1][1] = max(s.ranges[n-1][1], r[1])
			continue
		}
		s.ranges = append(s.ranges, r)
	}
	return s
}

// wants says whether the selection holds page p.
func (s selection) wants(p mmsb.PageID) bool {
	if s.all {
		return true
	}
	if _, ok := slices.BinarySearch(s.pages, p); ok {
		return true
	}
	i, _ := slices.BinarySearchFunc(s.ranges, p, func(r [2]mmsb.PageID, p mmsb.PageID) int { return cmp.Compare(r[1], p) })
	return i < len(s.ranges) && s.ranges[i][0] <= p
}

// check refuses, with ErrBadResponse, changes of a page the watch does
// not select: the server sends none. Until 2026-12-06 they were
// delivered, and an application watching one page, applying each
// change's delta to its copy of that page, applied another page's bytes
// (TestWatchRefusesUnselectedPage).
func (s selection) check(cs []Change) error {
	for _, c := range cs {
		if !s.wants(c.Page) {
			return fmt.Errorf("%w: watch: change at LSN %d is of page %d, which the watch does not select", ErrBadResponse, c.LSN, c.Page)
		}
	}
	return nil
}

// watchEvent decodes one Watch message for a watch whose first LSN not yet
// delivered is next. It returns the event, with the changes at or after
// next (never one twice, whatever the server sends), and the next LSN once
// the event is delivered. *next moves only once fn has the whole message,
// so a change that cannot be decoded refuses the whole message: the
// changes before it come again at the reconnection.
func watchEvent(m *mmsbv1.WatchResponse, next mmsb.LSN) (WatchEvent, mmsb.LSN, error) {
	ev := WatchEvent{ProgressLSN: mmsb.LSN(m.GetProgressLsn())}
	nx := next
	var prev mmsb.LSN // the LSN of the message's change before this one
	for i, ch := range m.GetChanges() {
		lsn := mmsb.LSN(ch.GetLsn())
		if lsn < prev {
			// The server sends a message's changes in LSN order: one
			// below the change before it was passed over as delivered
			// until 2026-12-06, a gap the application never learnt of
			// (TestWatchRefusesChangesOutOfOrder).
			return WatchEvent{}, next, fmt.Errorf("%w: watch: change %d at LSN %d follows one at LSN %d: changes must come in LSN order",
				ErrBadResponse, i, lsn, prev)
		}
		prev = lsn
		if lsn == 0 {
			// No operation has LSN 0. Passed over while a watch started
			// at LSN 1 at the earliest; delivered to a watch from 0
			// (next 0 until the opening message) for a while on
			// 2026-12-07 (TestWatchFromZeroRefusesLSNZero).
			return WatchEvent{}, next, fmt.Errorf("%w: watch: change %d at LSN 0, which no operation has", ErrBadResponse, i)
		}
		if lsn < nx {
			continue // never deliver twice, whatever the server sends
		}
		if lsn == math.MaxUint64 {
			// No LSN follows it, so the watch could not resume past it
			// and would deliver it again.
			return WatchEvent{}, next, fmt.Errorf("%w: watch: change at LSN %d, the last there is", ErrBadResponse, lsn)
		}
		kind, ok := wire.OpKinds[ch.GetKind()]
		if !ok {
			// Delivered as kind 0 until 2026-12-04 (TestWatchUnknownKind).
			return WatchEvent{}, next, fmt.Errorf("%w: watch: change at LSN %d has unknown kind %q", ErrBadResponse, lsn, ch.GetKind())
		}
		c := Change{LSN: lsn, Page: mmsb.PageID(ch.GetPage()), Kind: kind, Time: ch.GetTime()}
		if err := deltaPresence("watch: change", uint64(lsn), ch.GetKind(), ch.GetDelta() != nil); err != nil {
			// Change.Delta is documented as set for these kinds and only
			// them: a delta change without one reached the application
			// as a nil Delta until 2026-12-04 (TestBadResponses).
			return WatchEvent{}, next, err
		}
		if ch.GetDelta() != nil {
			d, derr := wire.DeltaFromProto(ch.GetDelta(), "", nil)
			if derr != nil {
				// The same change would come again on every
				// reconnection: the caller ends the watch.
				return WatchEvent{}, next, fmt.Errorf("client: watch: change at LSN %d: %w", lsn, derr)
			}
			if d.Page != c.Page {
				// A server bug, or a man in the middle of a plaintext
				// link, would have the application apply bytes to the
				// wrong page: delivered until 2026-12-04
				// (TestBadResponses, FuzzWatchMessages).
				return WatchEvent{}, next, fmt.Errorf("%w: watch: change at LSN %d names page %d and carries a delta of page %d",
					ErrBadResponse, lsn, c.Page, d.Page)
			}
			d.LSN, d.Time, d.Epoch = lsn, c.Time, mmsb.Epoch(ch.GetEpoch())
			c.Delta = &d
		}
		ev.Changes = append(ev.Changes, c)
		nx = max(nx, lsn+1)
	}
	if ev.ProgressLSN+1 > nx {
		nx = ev.ProgressLSN + 1
	}
	return ev, nx, nil
}

// deltaPresence refuses, with ErrBadResponse, an operation (what, at LSN
// lsn, of kind kind: a Watch change or a QueryLog operation) that carries
// a delta although its kind has none, or none although it is a "delta" or
// "derived" one: the server sends a delta exactly with these kinds.
func deltaPresence(what string, lsn uint64, kind string, hasDelta bool) error {
	k := wire.OpKinds[kind]
	switch want := k == mmsb.OpDelta || k == mmsb.OpDerived; {
	case want && !hasDelta:
		return fmt.Errorf("%w: %s at LSN %d of kind %q carries no delta", ErrBadResponse, what, lsn, kind)
	case !want && hasDelta:
		return fmt.Errorf("%w: %s at LSN %d of kind %q carries a delta", ErrBadResponse, what, lsn, kind)
	}
	return nil
}
