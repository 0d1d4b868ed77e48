package inspector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
	"github.com/mmsb-go/mmsb/internal/logquery"
	"github.com/mmsb-go/mmsb/internal/server"
	"github.com/mmsb-go/mmsb/internal/wire"
	"github.com/mmsb-go/mmsb/tick"
)

// Bounds on what one request may ask for, so that a browser (or anyone with
// a read token) cannot make the server build an unbounded answer.
const (
	defaultPageRows = 50
	maxPageRows     = 1000
	defaultRecent   = 8
	maxRecent       = 64
	maxShownBytes   = 256 // bytes of one delta or provenance step shown
	// maxShownRanges bounds the byte ranges listed for one write: a
	// masked delta can write every other byte of a 16 MiB page (8M
	// ranges). The log view shows 3 per operation; the page view also
	// gets every range that meets its window, to highlight it.
	maxShownRanges   = 64
	defaultLogRows   = 200
	maxLogRows       = 10000
	maxChangedPages  = 1000
	maxChangeScan    = 100000 // LSNs scanned for one Changes message
	defaultGraphSize = 200
	maxGraphSize     = 2000
	maxGraphDepth    = 4
	maxProvBytes     = 32 // provenance steps whose bytes are looked up
	defaultWindow    = 4096
	maxWindow        = 65536
	// maxShownParents bounds the binding parents one GetPage answer
	// lists (GetPageRequest.parents_offset pages through the rest): a
	// binding of 1M parents made every page view an answer of about 10
	// MB of JSON (TestGetPageCutsParents).
	maxShownParents = 1000
	// recentWindow is the first LSN window searched backwards for a page's
	// recent writes; it doubles until enough are found or it reaches
	// maxRecentWindow (a page last written long ago shows fewer).
	recentWindow    = 4096
	maxRecentWindow = 1 << 22
)

// service implements inspectorv1connect.InspectorServiceHandler.
type service struct {
	in *Inspector
}

func (s *service) bus() *mmsb.Bus { return s.in.bus }

// connectErr maps the bus's sentinels to Connect codes.
func connectErr(err error) error {
	switch {
	case errors.Is(err, mmsb.ErrClosed), errors.Is(err, mmsb.ErrFailed):
		// First: a failed bus's error wraps its cause, which may be
		// another sentinel (a logged op that does not apply wraps
		// ErrPageNotFound), and every later call answers the same.
		return connect.NewError(connect.CodeUnavailable, err)
	case errors.Is(err, mmsb.ErrPageNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, mmsb.ErrOutOfRange), errors.Is(err, mmsb.ErrInvalidOption):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, mmsb.ErrLogTruncated):
		// History a checkpoint trimmed from the log: the request asks
		// for what the bus no longer holds (BusService answers the same).
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, mmsb.ErrCorruption):
		return connect.NewError(connect.CodeDataLoss, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

func invalid(format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf(format, args...))
}

func (s *service) Overview(_ context.Context, _ *connect.Request[inspectorv1.OverviewRequest]) (*connect.Response[inspectorv1.OverviewResponse], error) {
	st := s.bus().Stats()
	if st.Closed {
		// Stats keeps answering after Close with the final figures; the
		// view must say the bus is gone, as every other method does.
		return nil, connectErr(mmsb.ErrClosed)
	}
	out := &inspectorv1.OverviewResponse{
		CommittedLsn:       uint64(st.LastLSN),
		DurableLsn:         uint64(st.Log.DurableLSN),
		OldestLsn:          uint64(st.Log.OldestLSN),
		Pages:              uint64(st.Pages),
		LogicalBytes:       uint64(st.LogicalBytes),
		Edges:              uint64(st.Edges),
		Bindings:           uint64(st.Bindings),
		LogRecords:         st.Log.Records,
		LogBytes:           st.Log.Bytes,
		LogSyncs:           st.Log.Syncs,
		LogSegments:        uint64(st.Log.Segments),
		Checkpoints:        st.Checkpoints,
		LastCheckpointLsn:  uint64(st.LastCheckpoint),
		CheckpointFailures: st.CheckpointFailures,
		SyncMode:           st.SyncMode,
		InMemory:           st.InMemory,
		Failed:             st.Failed,
		HeapBytes:          st.HeapBytes,
		TimeUnixNano:       time.Now().UnixNano(),
		MetricsPath:        s.in.metricsPath(),
	}
	if t := s.in.ticks; t != nil {
		m := t.Metrics()
		out.Ticking = true
		out.Ticks = m.Ticks
		out.TickOverruns = m.Overruns
		out.DeltasCommitted = m.Committed
		out.PagesRecomputed = m.DerivedWrites
		out.TickBudgetSeconds = m.Budget.Seconds()
		for p := tick.Phase(0); p < tick.NumPhases; p++ {
			ps := m.Phases[p]
			out.Phases = append(out.Phases, &inspectorv1.PhaseLatency{
				Phase: phaseName(p), Count: ps.Count, MeanSeconds: ps.Mean.Seconds(),
				P50Seconds: ps.P50.Seconds(), P99Seconds: ps.P99.Seconds(), MaxSeconds: ps.Max.Seconds(),
			})
		}
	}
	return connect.NewResponse(out), nil
}

func phaseName(p tick.Phase) string {
	switch p {
	case tick.PhaseDrain:
		return "drain"
	case tick.PhaseValidate:
		return "validate"
	case tick.PhaseCommit:
		return "commit"
	case tick.PhasePropagate:
		return "propagate"
	case tick.PhaseInvariants:
		return "invariants"
	case tick.PhasePublish:
		return "publish"
	case tick.PhaseTotal:
		return "total"
	}
	return "phase" + strconv.Itoa(int(p))
}

func (s *service) ListPages(ctx context.Context, req *connect.Request[inspectorv1.ListPagesRequest]) (*connect.Response[inspectorv1.ListPagesResponse], error) {
	m := req.Msg
	// The request's numbers are compared before they become ints: on a
	// 32-bit platform int of a uint32 of 2^31 or more is negative, passed
	// every "over the most" check, and a slice bound or a make panicked
	// (TestRequestNumbersPastInt32).
	limit := int(m.Limit)
	switch {
	case m.Limit == 0:
		limit = defaultPageRows
	case m.Limit > maxPageRows:
		return nil, invalid("limit %d is over %d rows", m.Limit, maxPageRows)
	}
	if _, ok := inspectorv1.PageSort_name[int32(m.Sort)]; !ok {
		return nil, invalid("sort %d is not a column (0 ID, 1 size, 2 epoch, 3 last LSN)", m.Sort)
	}
	bus := s.bus()
	committed := bus.LastLSN()
	if m.Sort != inspectorv1.PageSort_PAGE_SORT_ID || strings.TrimSpace(m.Search) == "flagged" {
		release, err := s.tableScan(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	ids, err := s.searchPages(ctx, m.Search)
	if err != nil {
		return nil, err
	}
	if m.Sort != inspectorv1.PageSort_PAGE_SORT_ID {
		if ids, err = s.sortedIDs(ctx, ids, m.Sort); err != nil {
			return nil, err
		}
	}
	if m.Descending {
		slices.Reverse(ids)
	}
	out := &inspectorv1.ListPagesResponse{Total: uint64(len(ids)), CommittedLsn: uint64(committed)}
	if m.Offset < uint64(len(ids)) {
		ids = ids[m.Offset:]
		ids = ids[:min(len(ids), limit)]
		for _, id := range ids {
			info, err := bus.Page(id)
			if errors.Is(err, mmsb.ErrPageNotFound) {
				continue // freed since the search
			}
			if err != nil {
				return nil, connectErr(err)
			}
			out.Rows = append(out.Rows, s.row(&info))
		}
	}
	// Each row's message holds about ListPageCost bytes more than it
	// encodes in, as the server counts its own ListPages.
	if err := s.holdBytes(ctx, "ListPages", proto.Size(out)+len(out.Rows)*server.ListPageCost); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

// maxTableScans bounds the ListPages calls reading every page at once
// (sorted by a column other than the ID, or searching "flagged"); the
// next waits for one to end, or for its context (the server's unary
// timeout). Each costs about half a second of CPU and 40 MB at 1M pages,
// and a tab sorted by epoch sends one every 2 s: without a bound, a
// read-role client sending them in a loop, or a hundred such tabs, ran
// that many at once (TestTableScansAreBounded).
const maxTableScans = 2

// tableScan takes a token of Inspector.tableScans, waiting for one while
// maxTableScans are taken, or returns ctx's error (deadline_exceeded,
// canceled). It waits rather than refuses: the pages view re-sends its
// listing every 2 s, and a refusal would blink in every tab's banner.
func (s *service) tableScan(ctx context.Context) (release func(), err error) {
	select {
	case s.in.tableScans <- struct{}{}:
		return func() { <-s.in.tableScans }, nil
	case <-ctx.Done():
		return nil, connectErr(fmt.Errorf("ListPages waited for one of the %d listings that read every page (a sort by a column other than the ID, or the flagged search): %w", maxTableScans, ctx.Err()))
	}
}

// scanCheckEvery is how many pages a listing that reads every page (the
// flagged search, a sort by a column other than the ID) reads between
// looks at its context. Checking it only before the scan, a listing whose
// client went away (a tab closed, the unary timeout) read the whole
// table, about half a second of CPU at 1M pages, holding one of the
// maxTableScans tokens meanwhile (TestTableScanStopsWithItsContext).
// Every 4096 pages costs nothing next to the 4096 read-locked calls.
const scanCheckEvery = 4096

// scanCheck returns ctx's error (canceled, deadline_exceeded) when page i
// of a whole-table scan is a multiple of scanCheckEvery and ctx is done.
func (s *service) scanCheck(ctx context.Context, what string, i, n int) error {
	if i%scanCheckEvery != 0 {
		return nil
	}
	if s.in.scanChecked != nil {
		s.in.scanChecked()
	}
	if err := ctx.Err(); err != nil {
		return connectErr(fmt.Errorf("ListPages stopped %s after %d of %d pages: %w", what, i, n, err))
	}
	return nil
}

// searchPages returns the IDs matching search, in ascending order.
//
// It never reads every page's description under one lock (Bus.Pages):
// a "flagged" search asks each page for its flags, one call (one short
// read lock) a page, so that commits go on between them. Bus.Pages held
// the bus's read lock for the whole table, 1.7 s at 1M pages, and every
// commit waited that long, at each refresh of every tab sorted by a
// column or searching "flagged" (TestSortedListingHoldsNoDescriptions).
func (s *service) searchPages(ctx context.Context, search string) ([]mmsb.PageID, error) {
	bus := s.bus()
	search = strings.TrimSpace(search)
	switch search {
	case "", "flagged":
		ids, err := bus.PageIDs()
		if err != nil {
			return nil, connectErr(err)
		}
		if search == "" {
			return ids, nil
		}
		flagged := ids[:0]
		for i, id := range ids {
			if err := s.scanCheck(ctx, "the flagged search", i, len(ids)); err != nil {
				return nil, err
			}
			f, err := bus.Flags(id)
			switch {
			case errors.Is(err, mmsb.ErrPageNotFound):
				// freed since the ID list was read
			case err != nil:
				return nil, connectErr(err)
			case f != 0:
				flagged = append(flagged, id)
			}
		}
		return flagged, nil
	case "derived":
		return bus.Bindings(), nil
	}
	if lo, hi, ok := parseIDRange(search); ok {
		all, err := bus.PageIDs()
		if err != nil {
			return nil, connectErr(err)
		}
		from, _ := slices.BinarySearch(all, lo)
		to, found := slices.BinarySearch(all, hi)
		if found {
			to++
		}
		return all[from:to], nil
	}
	if _, ok := bus.Func(search); !ok {
		// Quoted, a search of control characters is 4 times as
		// long: the error names its first 64 characters and its
		// length, not all of it (TestSearchErrorIsBounded).
		return nil, invalid("search %.64q (%d bytes) is not a page ID, an ID range (10-20), \"derived\", \"flagged\" or a function name", search, len(search))
	}
	// Each derived page's function name is read, one short read lock a
	// page and no copy (Bus.BindingFunc), and the matches are kept in the
	// ID list's own array: the search allocates that list and nothing per
	// binding. It read each Binding, a copy of its parents and parameters,
	// and grew a second list (TestFunctionSearchAllocations). The scan
	// looks at its context as the whole-table ones do.
	derived := bus.Bindings()
	ids := derived[:0]
	for i, id := range derived {
		if err := s.scanCheck(ctx, "the search by function", i, len(derived)); err != nil {
			return nil, err
		}
		if fn, ok := bus.BindingFunc(id); ok && fn == search {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// parseIDRange parses "42" or "10-20" (inclusive).
func parseIDRange(s string) (lo, hi mmsb.PageID, ok bool) {
	a, b, isRange := strings.Cut(s, "-")
	x, err := strconv.ParseUint(strings.TrimSpace(a), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	if !isRange {
		return mmsb.PageID(x), mmsb.PageID(x), true
	}
	y, err := strconv.ParseUint(strings.TrimSpace(b), 10, 64)
	if err != nil || y < x {
		return 0, 0, false
	}
	return mmsb.PageID(x), mmsb.PageID(y), true
}

// sortedIDs returns ids sorted by the column, ties broken by ID so that
// paging is stable; pages freed meanwhile are left out. Each page is
// described by its own call (Bus.Page: one short read lock), and only its
// key is kept: 16-byte (key, ID) pairs are sorted, not the descriptions
// (at 1M pages that is the cost of the request). Reading them all at once
// (Bus.Pages) held the bus's read lock for the whole table and every
// description (with a copy of its metadata) until the sort was done
// (TestSortedListingHoldsNoDescriptions).
func (s *service) sortedIDs(ctx context.Context, ids []mmsb.PageID, by inspectorv1.PageSort) ([]mmsb.PageID, error) {
	bus := s.bus()
	type keyed struct{ key, id uint64 }
	ks := make([]keyed, 0, len(ids))
	for i, id := range ids {
		if err := s.scanCheck(ctx, "reading the sort keys", i, len(ids)); err != nil {
			return nil, err
		}
		p, err := bus.Page(id)
		if errors.Is(err, mmsb.ErrPageNotFound) {
			continue // freed since the ID list was read
		}
		if err != nil {
			return nil, connectErr(err)
		}
		k := uint64(p.ID)
		switch by {
		case inspectorv1.PageSort_PAGE_SORT_SIZE:
			k = uint64(p.Size)
		case inspectorv1.PageSort_PAGE_SORT_EPOCH:
			k = uint64(p.Epoch)
		case inspectorv1.PageSort_PAGE_SORT_LAST_LSN:
			k = uint64(p.LastLSN)
		}
		ks = append(ks, keyed{k, uint64(p.ID)})
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		if c := compareU64(a.key, b.key); c != 0 {
			return c
		}
		return compareU64(a.id, b.id)
	})
	out := ids[:0] // ids is this request's own (PageIDs, Bindings: copies)
	for _, k := range ks {
		out = append(out, mmsb.PageID(k.id))
	}
	return out, nil
}

func compareU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *service) row(p *mmsb.PageInfo) *inspectorv1.PageRow {
	r := &inspectorv1.PageRow{
		Id: uint64(p.ID), Size: uint32(p.Size), Epoch: uint64(p.Epoch), LastLsn: uint64(p.LastLSN),
		Flags: uint32(p.Flags), FlagNames: mmsb.FlagNames(p.Flags), Type: shownType(p.Meta),
	}
	if p.Derived {
		// The name alone (no copy): Bus.Binding copied the binding's
		// parents and parameters for each row, 8 bytes a parent, MBs a
		// listing of bindings with many parents, at each 2 s refresh
		// (TestListingCopiesNoParents).
		if fn, ok := s.bus().BindingFunc(p.ID); ok {
			r.Func = wire.ValidText(fn)
		}
	}
	return r
}

// shownType returns a page's mmsb.type metadata as rows show it: valid
// UTF-8, cut at maxShownBytes (marked "…"). A writer may make it as long
// as a page's metadata (64 KiB), which \xNN made 256 KiB of text: in every
// row of a ListPages of up to 1,000 rows, 256 MB for one answer
// (TestListedTextIsCut). The UI compares it with "f64" and "i64".
func shownType(meta []mmsb.MetaEntry) string { return cutText(pageType(meta), maxShownBytes) }

func pageType(meta []mmsb.MetaEntry) string {
	for _, m := range meta {
		if m.Key == mmsb.TypeMetaKey {
			return string(m.Value)
		}
	}
	return ""
}

var writeKinds = []mmsb.OpKind{mmsb.OpDelta, mmsb.OpDerived}

// noReads is ctx for a log query of the inspector: no answer shows the
// parent reads of a derived write, and decoded they were 1 MiB or more
// a write of a derived page of 2^16 parents, 22 MB a view of such a page
// and its 8 recent writes (TestGetPageSkipsParentReads).
func noReads(ctx context.Context) context.Context { return logquery.WithoutParentReads(ctx) }

// logViewReads is noReads for the log view's queries, which show a Bind's
// first parents only: each Bind answered holds at most maxLogBindParents
// of them, and the BindParents returned counts them all (its Total, set
// before each Bind is called back with; bindDetail).
func logViewReads(ctx context.Context) (context.Context, *logquery.BindParents) {
	bp := &logquery.BindParents{Max: maxLogBindParents}
	return logquery.WithBindParents(noReads(ctx), bp), bp
}

// changeReads is noReads for the Changes stream's scans, which name the
// page of each operation and nothing else: no Bind's parents are decoded
// (logquery.BindParents of Max 0; a Bind is skimmed for its page). The
// scan decoded every parent of each Bind it met, 512 KiB and its growth
// for a Bind of 2^16 parents, at each poll that saw one
// (TestChangesDecodeNoBindParents).
func changeReads(ctx context.Context) context.Context {
	return logquery.WithBindParents(noReads(ctx), &logquery.BindParents{})
}

// changeKinds are the operations a Changes scan reads: every kind but
// the wave (mmsb.OpWave), which writes no page. A wave is then skimmed
// past, its page sets not decoded: it was decoded whole, its dirty and
// held-back sets (a wave that held back 2^12 pages: 126 KiB) at each poll
// that met it (TestChangesSkipWaveSets).
var changeKinds = func() (ks []mmsb.OpKind) {
	for k := mmsb.OpDelta; k < mmsb.OpWave; k++ {
		ks = append(ks, k)
	}
	return ks
}()

func (s *service) GetPage(ctx context.Context, req *connect.Request[inspectorv1.GetPageRequest]) (*connect.Response[inspectorv1.GetPageResponse], error) {
	m := req.Msg
	recent := int(m.Recent)
	switch {
	case m.Recent == 0:
		recent = defaultRecent
	case m.Recent > maxRecent:
		return nil, invalid("recent %d is over %d", m.Recent, maxRecent)
	}
	window := int(m.WindowLength)
	switch {
	case m.WindowLength == 0:
		window = defaultWindow
	case m.WindowLength > maxWindow:
		return nil, invalid("window_length %d is over %d bytes", m.WindowLength, maxWindow)
	}
	bus := s.bus()
	id := mmsb.PageID(m.Id)
	committed := bus.LastLSN()
	info, err := bus.Page(id)
	if err != nil {
		return nil, connectErr(err)
	}
	out := &inspectorv1.GetPageResponse{Page: s.row(&info), CommittedLsn: uint64(committed)}
	for _, e := range info.Meta {
		out.Meta = append(out.Meta, &inspectorv1.MetaEntry{Key: wire.ValidText(e.Key), Value: e.Value})
	}
	if s.in.pageRead != nil {
		s.in.pageRead()
	}
	// Only the parents shown are copied: Bus.Binding copied every one, 8
	// MiB a page view of a binding of 2^20 parents (TestGetPageCopiesOnlyShownParents).
	// As an int, on a 32-bit platform, an offset of 2^31 or more is
	// negative, which BindingParents counts as 0: it is past any binding
	// there, and the largest int says so.
	offset := int(m.ParentsOffset)
	if offset < 0 {
		offset = math.MaxInt
	}
	b, total, bound := bus.BindingParents(id, offset, maxShownParents)
	if uint64(m.ParentsOffset) > uint64(total) {
		return nil, invalid("parents_offset %d is past the %d binding parents of page %d", m.ParentsOffset, total, id)
	}
	// The function shown is the one of the parents shown, read with them:
	// the row's (Bus.BindingFunc, read before) could be the binding's
	// that a rebind replaced in between, f64.sum over the parents of an
	// f64.max (TestGetPageShowsOneBinding).
	out.Page.Func = ""
	if bound {
		out.Page.Func = wire.ValidText(b.Func)
	}
	out.ParentsTotal = uint64(total)
	out.Parents = make([]uint64, len(b.Parents))
	for i, p := range b.Parents {
		out.Parents[i] = uint64(p)
	}
	oldest := s.oldestLSN()
	out.OldestLsn = uint64(oldest)
	upTo := info.LastLSN
	if m.AsOfLsn == 0 {
		// Only the window is copied (the page may be MiBs; commits wait
		// while a read copies).
		// Compared as uint64: as an int, on a 32-bit platform, an offset
		// of 2^31 or more is negative and passed (TestWindowOffsetPastThePage).
		if uint64(m.WindowOffset) > uint64(info.Size) {
			return nil, invalid("window_offset %d is past the end of page %d (%d bytes)", m.WindowOffset, id, info.Size)
		}
		data, epoch, err := bus.ReadPageRange(id, int(m.WindowOffset), window, nil)
		if err != nil {
			return nil, connectErr(err)
		}
		out.Data, out.Epoch, out.WindowOffset = data, uint64(epoch), m.WindowOffset
	} else {
		asOf := mmsb.LSN(m.AsOfLsn)
		if asOf > committed {
			return nil, invalid("as-of LSN %d is after the committed LSN %d", asOf, committed)
		}
		if asOf < oldest {
			return nil, connect.NewError(connect.CodeOutOfRange, fmt.Errorf("as-of LSN %d is older than the oldest LSN the log holds (%d)", asOf, oldest))
		}
		data, epoch, end, err := s.pageAsOf(ctx, id, asOf)
		if err != nil {
			return nil, err
		}
		out.Data, out.Epoch, out.AsOfLsn = data, uint64(epoch), uint64(asOf)
		// The bytes are the state at the end of the batch holding asOf
		// (Bus.ReadPageAt stops there), and so are the recent writes
		// listed: until 2026-12-07 they stopped at asOf, without a later
		// write of the batch that the bytes hold
		// (TestGetPageAsOfInsideBatchListsItsEnd).
		upTo = min(upTo, end)
		if uint64(m.WindowOffset) > uint64(len(out.Data)) {
			return nil, invalid("window_offset %d is past the end of page %d (%d bytes)", m.WindowOffset, id, len(out.Data))
		}
		out.WindowOffset = m.WindowOffset
		out.Data = out.Data[m.WindowOffset:min(len(out.Data), int(m.WindowOffset)+window)]
	}
	shown := [2]uint32{m.WindowOffset, m.WindowOffset + uint32(len(out.Data))}
	// Finding the recent writes reads the log (windows of up to
	// maxRecentWindow LSNs): it holds one of the server's log query slots,
	// as the QueryLog stream does.
	release, err := s.logSlot()
	if err != nil {
		return nil, err
	}
	defer release()
	ws, err := s.recentWrites(ctx, id, upTo, oldest, recent, shown)
	switch {
	case errors.Is(err, mmsb.ErrFailed):
		// A failed bus whose pages hold whole batches still reads them
		// (one whose pages may hold part of a batch refused the read
		// above) but not its log: the page is shown without its recent writes (the Changes stream has
		// ended with the failure, which the UI's banner keeps shown),
		// rather than not at all (TestChangesEndWhenTheBusFails).
	case err != nil:
		return nil, err
	}
	out.Recent = ws
	// A byte range encodes in a few bytes and is a message of its own in
	// memory, about rangeCost bytes: the recent writes of a masked page
	// list up to 64 + window/2 each (32,832 for a 64 KiB window).
	ranges := 0
	for _, w := range ws {
		ranges += len(w.Ranges)
	}
	if err := s.holdBytes(ctx, "GetPage", proto.Size(out)+ranges*rangeCost); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

// oldestLSN is the first LSN the log still holds (checkpoints trim older
// segments); as-of views start there.
func (s *service) oldestLSN() mmsb.LSN {
	return s.bus().Stats().Log.OldestLSN
}

// pageAsOf returns page id as of lsn: Bus.ReadPageAt replays that page
// alone (one page of memory), from the newest checkpoint at or before lsn,
// to the end of the batch holding lsn, the LSN it returns
// (server.AsOfLSN).
func (s *service) pageAsOf(ctx context.Context, id mmsb.PageID, lsn mmsb.LSN) ([]byte, mmsb.Epoch, mmsb.LSN, error) {
	if s.in.asOf != nil {
		// The server's slots for replays (Options.AsOfSlot): without
		// them a read-role user of the inspector ran as many replays at
		// once as it sent, past --max-asof-reads.
		release, err := s.in.asOf(ctx)
		if err != nil {
			return nil, 0, 0, err
		}
		defer release()
	}
	end, err := server.AsOfLSN(ctx, s.bus(), lsn)
	if err != nil {
		return nil, 0, 0, connectErr(err)
	}
	data, ep, err := s.bus().ReadPageAt(ctx, id, lsn)
	if err != nil {
		return nil, 0, 0, connectErr(err)
	}
	return data, ep, end, nil
}

// recentWrites returns the last n writes of page id at or before upTo,
// newest first, searching the log backwards in doubling LSN windows. Each
// lists its first maxShownRanges byte ranges and every range that meets
// the window shown ([shown[0], shown[1])), which the view highlights: at
// most maxShownRanges plus half the window, however many the write has.
//
// A window is read twice: for the LSNs of the page's writes in it (the
// newest ones still wanted, in a ring), then from the oldest of those for
// the writes themselves, so that only the writes returned are described.
// Describing every write of a window and keeping the newest n held all of
// them at once: 512 masked deltas of a 16 KiB page allocated 305 MB for
// one answer of 8,192 ranges (TestRecentWritesDescribesOnlyThoseShown).
func (s *service) recentWrites(ctx context.Context, id mmsb.PageID, upTo, oldest mmsb.LSN, n int, shown [2]uint32) ([]*inspectorv1.RecentWrite, error) {
	if upTo == 0 {
		return nil, nil
	}
	var found []*inspectorv1.RecentWrite
	hi := upTo
	for window := mmsb.LSN(recentWindow); ; window *= 2 {
		lo := mmsb.LSN(1)
		if hi > window {
			lo = hi - window + 1
		}
		lo = max(lo, oldest)
		batch, err := s.newestWrites(ctx, id, lo, hi, n-len(found), shown)
		if errors.Is(err, mmsb.ErrLogTruncated) {
			break // a checkpoint trimmed the older writes away meanwhile
		}
		if err != nil {
			return nil, connectErr(err)
		}
		found = append(found, batch...)
		if len(found) >= n || lo <= max(oldest, 1) || window >= maxRecentWindow {
			break
		}
		hi = lo - 1
	}
	return found[:min(len(found), n)], nil
}

// newestWrites returns the newest n (at least 1) writes of page id in
// [lo, hi], newest first, described as recentWrites says.
func (s *service) newestWrites(ctx context.Context, id mmsb.PageID, lo, hi mmsb.LSN, n int, shown [2]uint32) ([]*inspectorv1.RecentWrite, error) {
	ring := make([]mmsb.LSN, 0, min(n, 64))
	next := 0 // where the next LSN goes once the ring is full
	err := s.bus().QueryLog(noReads(ctx), mmsb.LogQuery{Page: id, FromLSN: lo, ToLSN: hi, Kinds: writeKinds}, func(op *mmsb.LoggedOp) bool {
		if len(ring) < n {
			ring = append(ring, op.LSN)
		} else {
			ring[next] = op.LSN
			next = (next + 1) % n
		}
		return true
	})
	if err != nil || len(ring) == 0 {
		return nil, err
	}
	from := ring[next%len(ring)] // the oldest LSN kept
	batch := make([]*inspectorv1.RecentWrite, 0, len(ring))
	err = s.bus().QueryLog(noReads(ctx), mmsb.LogQuery{Page: id, FromLSN: from, ToLSN: hi, Kinds: writeKinds}, func(op *mmsb.LoggedOp) bool {
		w := &inspectorv1.RecentWrite{
			Lsn: uint64(op.LSN), Source: shownSource(op.Op.Delta.Source), Derived: op.Op.Kind == mmsb.OpDerived,
			TimeUnixNano: op.Time, Epoch: uint64(op.Op.Delta.Epoch),
		}
		listed := 0
		delta.Ranges(&op.Op.Delta, func(off, n uint32) {
			listed++
			if listed <= maxShownRanges || (off+n > shown[0] && off < shown[1]) {
				w.Ranges = append(w.Ranges, &inspectorv1.ByteRange{Lo: off, Hi: off + n})
			}
		})
		batch = append(batch, w)
		return true
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(batch)
	return batch, nil
}

func (s *service) Provenance(ctx context.Context, req *connect.Request[inspectorv1.ProvenanceRequest]) (*connect.Response[inspectorv1.ProvenanceResponse], error) {
	m := req.Msg
	if m.Length == 0 {
		return nil, invalid("provenance of an empty byte range (length 0)")
	}
	if uint64(m.Offset)+uint64(m.Length) > mmsb.MaxPageSize {
		return nil, invalid("provenance range [%d, %d+%d) is past the largest page size %d", m.Offset, m.Offset, m.Length, mmsb.MaxPageSize)
	}
	// Provenance reads the log (the bus scans it where its history ring
	// no longer holds the chain; each step's bytes are looked up in it):
	// one of the server's log query slots for the whole answer.
	release, err := s.logSlot()
	if err != nil {
		return nil, err
	}
	defer release()
	bus := s.bus()
	res, err := bus.Provenance(ctx, mmsb.PageID(m.Page), int(m.Offset), int(m.Length), int(min(m.Depth, math.MaxInt32)))
	if err != nil {
		return nil, connectErr(err)
	}
	out := &inspectorv1.ProvenanceResponse{
		Page: uint64(res.Page), Offset: uint32(res.Off), Length: uint32(res.N),
		ChainDepth: uint32(res.ChainDepth), Truncated: res.Truncated,
	}
	for i := range res.Writes {
		w := &res.Writes[i]
		step := &inspectorv1.ProvenanceStep{
			Page: uint64(w.Page), Lsn: uint64(w.LSN), Lo: w.Lo, Hi: w.Hi, Derived: w.Derived,
			Source: shownSource(w.Source), Intent: shownIntent(w.Intent), TimeUnixNano: w.Time, Depth: uint32(w.Depth),
			Parent: int32(w.Parent), Lost: w.Lost, Repeat: w.Repeat, FromLog: w.FromLog,
		}
		if !w.Lost {
			step.Kind = w.Kind.String()
		}
		if i < maxProvBytes && !w.Lost && w.Kind != mmsb.OpCreatePage && w.Hi > w.Lo {
			b, err := s.writtenBytes(ctx, w.Page, w.LSN, w.Lo, w.Hi)
			if err != nil {
				return nil, err
			}
			step.Bytes = b
		}
		out.Steps = append(out.Steps, step)
	}
	if err := s.holdAnswer(ctx, "Provenance", out); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

// shownSource returns a write's source as answers show it: valid UTF-8,
// cut at maxShownBytes (marked "…"). A source is a label ("api",
// "propagation"), but a writer may make it megabytes long, and a
// provenance answer names one write once for every path it reaches the
// range by (a write of one page read by 64 derived pages that one page
// sums is named 64 times): each with a 1 MiB source, 64 MiB of answer
// (TestSourcesAreCut).
func shownSource(s string) string { return cutText(s, maxShownBytes) }

// shownIntent returns the first maxShownBytes of a step's intent. Intents
// are opaque and as long as a writer likes, and an answer lists up to
// mmsb.MaxProvenanceWrites steps: whole, an 8 MiB intent on each of a
// derived page's parents made every provenance of its bytes an answer of
// that many MiB times the parents (TestProvenanceIntentIsCut). The view
// shows the intent as text, marked cut when it has all maxShownBytes.
func shownIntent(intent []byte) []byte {
	return intent[:min(len(intent), maxShownBytes)]
}

// shownWrite returns bytes [lo, hi) of what d writes (zero where it
// writes nothing), in a slice of their own. A runs delta is applied to
// the window only: applied to a buffer as large as the page, each of the
// maxProvBytes steps of a provenance answer allocated up to 16 MiB and
// kept it alive behind its few shown bytes until the answer was sent, 512
// MiB for one request (TestProvenanceBytesCopyOnlyTheWindow). A masked
// delta, whose payload is indexed through its mask, is applied whole and
// the window copied out.
func shownWrite(d *mmsb.Delta, lo, hi uint32) ([]byte, error) {
	out := make([]byte, hi-lo)
	if d.Form == delta.FormRuns {
		for _, r := range d.Runs { // in order: a later run wins, as in Apply
			end := uint64(r.Offset) + uint64(len(r.Data))
			from, to := max(uint64(r.Offset), uint64(lo)), min(end, uint64(hi))
			if from < to {
				copy(out[from-uint64(lo):to-uint64(lo)], r.Data[from-uint64(r.Offset):to-uint64(r.Offset)])
			}
		}
		return out, nil
	}
	end := uint32(0)
	delta.Ranges(d, func(off, n uint32) { end = max(end, off+n) })
	end = max(end, d.MaskLen) // Apply refuses a mask longer than the buffer
	buf := make([]byte, max(end, hi))
	if err := delta.Apply(d, buf); err != nil {
		return nil, err
	}
	copy(out, buf[lo:hi])
	return out, nil
}

// writtenBytes returns the bytes the write at lsn put in [lo, hi) of page
// (positions it did not write read as zero), at most maxShownBytes.
func (s *service) writtenBytes(ctx context.Context, page mmsb.PageID, lsn mmsb.LSN, lo, hi uint32) ([]byte, error) {
	var out []byte
	var applyErr error
	err := s.bus().QueryLog(noReads(ctx), mmsb.LogQuery{Page: page, FromLSN: lsn, ToLSN: lsn, Kinds: writeKinds}, func(op *mmsb.LoggedOp) bool {
		out, applyErr = shownWrite(&op.Op.Delta, lo, min(hi, lo+maxShownBytes))
		return false
	})
	if errors.Is(err, mmsb.ErrLogTruncated) || errors.Is(err, mmsb.ErrFailed) {
		// The write is known (from the bus's history) but no longer
		// logged, or the bus failed and its log cannot be read: no
		// bytes to show.
		return nil, nil
	}
	if err != nil {
		return nil, connectErr(err)
	}
	if applyErr != nil {
		// A logged delta was validated against its page when committed:
		// one that does not apply to a buffer covering it is the bus's
		// fault, not the request's.
		return nil, connect.NewError(connect.CodeInternal, fmt.Errorf("page %d LSN %d: logged delta does not apply: %w", page, lsn, applyErr))
	}
	return out, nil
}

func (s *service) Graph(ctx context.Context, req *connect.Request[inspectorv1.GraphRequest]) (*connect.Response[inspectorv1.GraphResponse], error) {
	m := req.Msg
	depth := int(m.Depth)
	switch {
	case m.Depth == 0:
		depth = 1
	case m.Depth > maxGraphDepth:
		return nil, invalid("graph depth %d is over %d", m.Depth, maxGraphDepth)
	}
	limit := int(m.MaxNodes)
	switch {
	case m.MaxNodes == 0:
		limit = defaultGraphSize
	case m.MaxNodes > maxGraphSize:
		return nil, invalid("max_nodes %d is over %d", m.MaxNodes, maxGraphSize)
	}
	bus := s.bus()
	root := mmsb.PageID(m.Page)
	if _, err := bus.Page(root); err != nil {
		return nil, connectErr(err)
	}
	layer := map[mmsb.PageID]int{root: 0}
	order := []mmsb.PageID{root}
	out := &inspectorv1.GraphResponse{}
	// Breadth-first, up through parents then down through children, each
	// in the bus's deterministic edge order. Only the edges the walk may
	// use are copied (Bus.ParentsRange): Bus.Parents copied every incoming
	// edge of each page walked, 24 MiB a view of a page with 2^20
	// (TestGraphCopiesOnlyShownEdges). chunk edges hold limit distinct
	// neighbours (a pair of pages has at most one edge of each of the 4
	// types), enough to fill the view: one read a page, in practice.
	chunk := limit * 4
	walk := func(next func(mmsb.PageID, int, int) ([]mmsb.Edge, int), far func(mmsb.Edge) mmsb.PageID, step int) {
		frontier := []mmsb.PageID{root}
		for d := 1; d <= depth && len(frontier) > 0; d++ {
			var grown []mmsb.PageID
			for _, id := range frontier {
				for off := 0; ; off += chunk {
					es, _ := next(id, off, chunk)
					for _, e := range es {
						nb := far(e)
						if _, seen := layer[nb]; seen {
							continue
						}
						if len(order) >= limit {
							out.Truncated = true
							return
						}
						layer[nb] = d * step
						order = append(order, nb)
						grown = append(grown, nb)
					}
					if len(es) < chunk {
						break
					}
				}
			}
			frontier = grown
		}
	}
	walk(bus.ParentsRange, func(e mmsb.Edge) mmsb.PageID { return e.Parent }, -1)
	walk(bus.ChildrenRange, func(e mmsb.Edge) mmsb.PageID { return e.Child }, 1)
	// derived holds the shown pages that are bound. A derived page's Data
	// edges are exactly its binding's (Bind refuses a foreign one, and
	// nothing but Bind and Unbind adds or removes one), so a Data edge
	// into a derived page is a binding's edge: no parent list is read.
	// Bus.Binding copied each shown binding's parents (and params) to
	// look its shown parents up, 800 KB a view for a binding of 100,000
	// parents (TestGraphReadsNoBindingParents); searching each binding's
	// list per shown edge cost 200 edges × 1M parents before 2026-12-06
	// (TestGraphOfALargeFanIn).
	derived := map[mmsb.PageID]bool{}
	for _, id := range order {
		node := &inspectorv1.GraphNode{Id: uint64(id), Layer: int32(layer[id])}
		if fn, ok := bus.BindingFunc(id); ok {
			derived[id] = true
			node.Func = wire.ValidText(fn)
		}
		if f, err := bus.Flags(id); err == nil {
			node.Flags = uint32(f)
		}
		out.Nodes = append(out.Nodes, node)
	}
	// The edges between shown pages, read at once (Bus.EdgesAmong: a page
	// with a large fan-in costs a lookup per shown page, not a copy of its
	// edges), grouped by child in the walk's order, each child's by parent.
	pos := make(map[mmsb.PageID]int, len(order))
	for i, id := range order {
		pos[id] = i
	}
	edges := bus.EdgesAmong(order)
	slices.SortStableFunc(edges, func(a, b mmsb.Edge) int { return pos[a.Child] - pos[b.Child] })
	for _, e := range edges {
		out.Edges = append(out.Edges, &inspectorv1.GraphEdge{
			Parent: uint64(e.Parent), Child: uint64(e.Child), Type: e.Type.String(),
			Bound: e.Type == mmsb.EdgeData && derived[e.Child],
		})
	}
	if err := s.holdAnswer(ctx, "Graph", out); err != nil {
		return nil, err
	}
	return connect.NewResponse(out), nil
}

func (s *service) QueryLog(ctx context.Context, req *connect.Request[inspectorv1.QueryLogRequest], stream *connect.ServerStream[inspectorv1.LogEntry]) error {
	m := req.Msg
	limit := int(m.Limit)
	switch {
	case m.Limit == 0:
		limit = defaultLogRows
	case m.Limit > maxLogRows:
		return invalid("limit %d is over %d operations", m.Limit, maxLogRows)
	}
	if m.ToLsn != 0 && m.ToLsn < m.FromLsn {
		return invalid("to_lsn %d is before from_lsn %d", m.ToLsn, m.FromLsn)
	}
	if m.ToTimeUnixNano != 0 && m.ToTimeUnixNano < m.FromTimeUnixNano {
		return invalid("to_time_unix_nano %d is before from_time_unix_nano %d", m.ToTimeUnixNano, m.FromTimeUnixNano)
	}
	// The bus reads the whole log looking for an LSN it has not reached
	// yet, to answer with nothing.
	if committed := uint64(s.bus().LastLSN()); m.FromLsn > committed {
		return invalid("from_lsn %d is after the committed LSN %d", m.FromLsn, committed)
	}
	q := mmsb.LogQuery{
		Page: mmsb.PageID(m.Page), FromLSN: mmsb.LSN(m.FromLsn), ToLSN: mmsb.LSN(m.ToLsn),
		Source: m.Source, FromTime: m.FromTimeUnixNano, ToTime: m.ToTimeUnixNano,
	}
	release, err := s.logSlot()
	if err != nil {
		return err
	}
	defer release()
	// Entries are copied out of the callback (its Op aliases the reader's
	// buffer) and sent in batches from inside it: a slow browser keeps the
	// log reader open while a batch is sent (the request's limit bounds
	// how many batches).
	//
	// Each batch counts against the server's bounds on answer bytes
	// (holdBytes, as queryLogNewest's ring does) while it is sent, and is
	// given back once sent: a batch of 64 entries of a few KB each, held
	// by a client that does not read, was not counted at all
	// (TestQueryLogBatchesCountAgainstServerBounds).
	var batch []*inspectorv1.LogEntry
	sent := 0
	var sendErr error
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		size := 0
		for _, e := range batch {
			size += proto.Size(e) + len(e.Ranges)*rangeCost
		}
		if sendErr = s.holdBytes(ctx, "QueryLog", size); sendErr != nil {
			return false
		}
		defer s.dropBytes(ctx, 0) // nothing else of this answer is counted
		for _, e := range batch {
			if sendErr = stream.Send(e); sendErr != nil {
				return false
			}
		}
		batch = batch[:0]
		return true
	}
	if m.Newest {
		return s.queryLogNewest(ctx, q, limit, stream)
	}
	qctx, bp := logViewReads(ctx)
	err = s.bus().QueryLog(qctx, q, func(op *mmsb.LoggedOp) bool {
		batch = append(batch, logEntry(op, bp.Total))
		sent++
		if len(batch) == 64 && !flush() {
			return false
		}
		return sent < limit
	})
	if err != nil {
		return connectErr(err)
	}
	if sendErr == nil {
		flush() // the last batch; a batch refused or not sent ended the query
	}
	return sendErr
}

// queryLogNewest sends the newest limit operations matching q, in LSN
// order. The log is read forwards only, so the whole range is scanned and
// the last limit matches kept in a ring (at most limit entries, each with
// at most maxShownBytes bytes): a page's log view then shows its last writes
// even when they are far behind the bus's newest LSN.
func (s *service) queryLogNewest(ctx context.Context, q mmsb.LogQuery, limit int, stream *connect.ServerStream[inspectorv1.LogEntry]) error {
	ring := make([]*inspectorv1.LogEntry, 0, min(limit, 1024))
	sizes := make([]int, 0, cap(ring)) // each entry's encoded size
	next := 0                          // where the next entry goes once the ring is full
	// The ring holds up to limit (10,000) entries of up to a few KB
	// until they are sent: the most it held so far counts against the
	// server's bounds on answer bytes, as a unary answer does (holdAnswer).
	ringBytes, held := 0, 0
	var holdErr error
	qctx, bp := logViewReads(ctx)
	err := s.bus().QueryLog(qctx, q, func(op *mmsb.LoggedOp) bool {
		e := logEntry(op, bp.Total)
		size := proto.Size(e) + len(e.Ranges)*rangeCost
		if len(ring) < limit {
			ring, sizes = append(ring, e), append(sizes, size)
			ringBytes += size
		} else {
			ring[next] = e
			ringBytes += size - sizes[next]
			sizes[next] = size
			next = (next + 1) % limit
		}
		if ringBytes > held {
			if holdErr = s.holdBytes(ctx, "QueryLog", ringBytes-held); holdErr != nil {
				return false
			}
			held = ringBytes
		}
		return true
	})
	if err != nil {
		return connectErr(err)
	}
	if holdErr != nil {
		return holdErr
	}
	for i := range ring {
		if err := stream.Send(ring[(next+i)%len(ring)]); err != nil {
			return err
		}
	}
	return nil
}

// maxLogIntent bounds the bytes of a write's intent its log line quotes.
const maxLogIntent = 120

// intentDetail is a log line's detail for a write's intent: its first
// maxLogIntent bytes (cut on a rune boundary when it is UTF-8 there),
// Go-quoted, then "…" when the intent is longer, as other cut texts are
// marked (cutText). The cut was unmarked: a 300-byte intent read as one
// of 120 (TestLogIntentCutIsMarked).
func intentDetail(intent []byte) string {
	if len(intent) <= maxLogIntent {
		return "intent " + strconv.Quote(string(intent))
	}
	n := maxLogIntent
	for back := 0; back < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(intent[n]); back++ {
		n--
	}
	if !utf8.RuneStart(intent[n]) {
		n = maxLogIntent // not UTF-8 here: cut at the bound
	}
	return "intent " + strconv.Quote(string(intent[:n])) + "…"
}

// logEntry is op's line in the log view; bindParents is its count of
// parents when op is a Bind (logViewReads), of which op holds the first.
func logEntry(op *mmsb.LoggedOp, bindParents int) *inspectorv1.LogEntry {
	o := op.Op
	e := &inspectorv1.LogEntry{Lsn: uint64(op.LSN), TimeUnixNano: op.Time, Kind: o.Kind.String(), Page: uint64(o.Page)}
	switch o.Kind {
	case mmsb.OpDelta, mmsb.OpDerived:
		d := &o.Delta
		e.Page, e.Source, e.Epoch = uint64(d.Page), shownSource(d.Source), uint64(d.Epoch)
		delta.Ranges(d, func(off, n uint32) {
			if len(e.Ranges) < maxShownRanges {
				e.Ranges = append(e.Ranges, &inspectorv1.ByteRange{Lo: off, Hi: off + n})
			}
		})
		e.Data, e.DataTruncated = writtenData(d)
		if len(d.Intent) > 0 {
			e.Detail = intentDetail(d.Intent)
		}
	case mmsb.OpCreatePage:
		e.Detail = fmt.Sprintf("size %d", o.Size)
	case mmsb.OpSetMeta:
		e.Detail = fmt.Sprintf("%d metadata entries", len(o.Meta))
	case mmsb.OpAddEdge, mmsb.OpRemoveEdge:
		e.Page = uint64(o.Child)
		typ := "every type"
		if o.EdgeType != mmsb.AllEdgeTypes {
			typ = o.EdgeType.String()
		}
		e.Detail = fmt.Sprintf("%d -> %d (%s)", o.Parent, o.Child, typ)
	case mmsb.OpBind:
		e.Detail = bindDetail(o.Func, o.Parents, max(bindParents, len(o.Parents)))
	case mmsb.OpSetFlags:
		e.Detail = mmsb.FlagNames(o.Flags)
	case mmsb.OpWave:
		e.Detail = fmt.Sprintf("end of wave: %d pages left dirty, %d held back", len(o.Dirty), len(o.Held))
	}
	return e
}

// bindDetail returns a Bind's line in the log view, "fn(p1, p2, ...)",
// total being its count of parents, of which parents holds the first
// ones (the log query decodes at most maxLogBindParents of them,
// logquery.WithBindParents: it decoded all, 512 KiB for each Bind of 2^16
// parents, to show 256 bytes; TestLogBindDecodesShownParentsOnly).
// Parents are listed whole while their list is under maxShownBytes (the
// name has a budget of its own, below), and the rest counted exactly, "f64.sum(1, 2, … and 65,520 more)": the line was
// built no further than that and cut, 59 KB for 10,000 parents before
// (queryLogNewest keeps up to 10,000 entries until it sends them;
// TestListedTextIsCut).
//
// A function name that is not all ASCII is isolated (U+2068 … U+2069,
// first-strong isolate): it is a writer's string, and a right-to-left
// override in it (U+202E) drew the parents after it right to left in the
// log view, "(2, 1)" for a binding over (1, 2) (TestInspectorLogBindBidi).
// The name is cut on its own (at maxShownBytes, on a rune boundary,
// marked "…") inside the isolate, so that the isolate is always closed:
// the line was cut as a whole at maxShownBytes, which dropped the closing
// U+2069 of a name of 256 bytes or more, and the override ran on over the
// parents (TestLogBindLongNameKeepsIsolate). An ASCII name holds no such
// control, and is sent as it was.
func bindDetail(fn string, parents []mmsb.PageID, total int) string {
	name := cutText(fn, maxShownBytes)
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			name = "\u2068" + name + "\u2069"
			break
		}
	}
	b := append([]byte(name), '(')
	list := len(b) // where the parents start
	shown := 0
	for _, p := range parents {
		var num [20]byte
		d := strconv.AppendUint(num[:0], uint64(p), 10)
		sep := 0
		if shown > 0 {
			sep = len(", ")
		}
		if len(b)-list+sep+len(d) > maxShownBytes {
			break
		}
		if sep > 0 {
			b = append(b, ", "...)
		}
		b = append(b, d...)
		shown++
	}
	if rest := total - shown; rest > 0 {
		if shown > 0 {
			b = append(b, ", "...)
			b = append(b, "… and "...)
			b = appendGrouped(b, uint64(rest))
			b = append(b, " more"...)
		} else {
			b = appendGrouped(b, uint64(rest))
			b = append(b, " parents"...)
		}
	}
	return string(append(b, ')'))
}

// maxLogBindParents is the most parents of a Bind a log view's query
// decodes: more than a line of maxShownBytes can list (a parent takes at
// least 3 bytes with its ", ").
const maxLogBindParents = maxShownBytes/3 + 1

// appendGrouped appends n in decimal with its digits grouped by threes
// with commas (65,520), as the UI writes counts.
func appendGrouped(b []byte, n uint64) []byte {
	d := strconv.FormatUint(n, 10)
	for i := range len(d) {
		if i > 0 && (len(d)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, d[i])
	}
	return b
}

// writtenData returns the bytes a delta writes, in offset order, at most
// maxShownBytes of them.
func writtenData(d *mmsb.Delta) ([]byte, bool) {
	var out []byte
	if d.Form == delta.FormRuns {
		// Only what is shown is copied: a run of megabytes must not be
		// kept alive behind a 256-byte slice (queryLogNewest holds
		// thousands of entries).
		for _, r := range d.Runs {
			if room := maxShownBytes - len(out); len(r.Data) > room {
				return append(out, r.Data[:room]...), true
			}
			out = append(out, r.Data...)
		}
		return out, false
	}
	// A masked delta's payload holds the bytes of its set positions.
	if len(d.Payload) > maxShownBytes {
		return append(out, d.Payload[:maxShownBytes]...), true
	}
	return append(out, d.Payload...), false
}

// holdAnswer counts the bytes of out, an answer built, against the
// server's bounds on the bytes that answers in flight hold
// (server.MaxAnswerBytes and MaxAnswerBytesPerClient, through
// server.HoldAnswer) until it is sent, or refuses it beside other answers
// with the server's resource_exhausted error naming the bound, as the
// server's own ListPages and Provenance are. The inspector's ListPages,
// GetPage, Provenance and Graph answers reach about 1 MB each, and were
// not counted: a client that read none of them held that much per
// request in flight, past the server's bound (TestAnswersCountAgainstServerBounds).
// Served on its own (no LimitRequests) it counts nothing.
func (s *service) holdAnswer(ctx context.Context, what string, out proto.Message) error {
	return s.holdBytes(ctx, what, proto.Size(out))
}

// rangeCost is what one listed byte range (inspectorv1.ByteRange) of an
// answer holds in memory, counted against the server's bounds on answer
// bytes besides its encoded size.
const rangeCost = 64

// holdBytes is holdAnswer for n more bytes of an answer.
func (s *service) holdBytes(ctx context.Context, what string, n int) error {
	if s.in.holdAnswer != nil {
		return s.in.holdAnswer(ctx, what, n)
	}
	return server.HoldAnswer(ctx, what, n)
}

// dropBytes gives back what the answer of ctx counted (holdBytes) beyond
// its first keep bytes: a stream's part once it is sent.
func (s *service) dropBytes(ctx context.Context, keep int) {
	if s.in.dropAnswer != nil {
		s.in.dropAnswer(ctx, keep)
		return
	}
	server.DropAnswer(ctx, keep)
}

// logSlot takes one of the server's log query slots (Options.LogQuerySlot,
// --max-log-queries) for a method that reads the log, or refuses with the
// server's resource_exhausted error naming the bound. It refuses rather
// than waits, as the server's own QueryLog does: the slots may be held by
// streams a slow client reads for as long as it likes. Without
// LogQuerySlot (an inspector served on its own) it takes nothing.
func (s *service) logSlot() (release func(), err error) {
	if s.in.logQuery == nil {
		return func() {}, nil
	}
	return s.in.logQuery()
}

// unusableErr returns Unavailable once the bus is closed (mmsb.ErrClosed)
// or failed (mmsb.ErrFailed, naming the write that failed), else nil.
//
// A failed bus still serves reads, so the views go on showing its pages,
// but nothing will commit again: a Changes stream that went on reporting
// the same LSN made the header's LSN look live, and nothing outside the
// Overview's "state" card said the bus had failed. Ending the stream puts
// the failure in the UI's error banner and strikes the LSN through, as a
// closed bus does, and the server's Watch ends the same way
// (TestChangesEndWhenTheBusFails).
func (s *service) unusableErr() error {
	if err := s.bus().Err(); err != nil {
		return connectErr(err)
	}
	return nil
}

// inspectorClosed is the error the streams end with when Close is called.
func inspectorClosed() error { return connect.NewError(connect.CodeUnavailable, ErrClosed) }

// openStream takes a token for a Changes or Events stream, or refuses the
// stream with ResourceExhausted (ErrTooManyStreams) while
// Options.MaxStreams are open. It refuses rather than waits: a stream
// holds its token until its client goes away, which may be never.
func (s *service) openStream(method string) (release func(), err error) {
	select {
	case s.in.streams <- struct{}{}:
	default:
		return nil, connect.NewError(connect.CodeResourceExhausted,
			fmt.Errorf("%w: %s: %d Changes and Events streams are open, the most this inspector allows (inspector.Options.MaxStreams); close an inspector tab or view", ErrTooManyStreams, method, cap(s.in.streams)))
	}
	if s.in.streamOpened != nil {
		s.in.streamOpened()
	}
	return func() {
		<-s.in.streams
		if s.in.streamClosed != nil {
			s.in.streamClosed()
		}
	}, nil
}

func (s *service) Changes(ctx context.Context, req *connect.Request[inspectorv1.ChangesRequest], stream *connect.ServerStream[inspectorv1.ChangesResponse]) error {
	bus := s.bus()
	// A closed or failed bus's LSN never moves: the stream would report it
	// for ever and the browser would never learn the bus is gone.
	if err := s.unusableErr(); err != nil {
		return err
	}
	release, err := s.openStream("Changes")
	if err != nil {
		return err
	}
	defer release()
	last := mmsb.LSN(req.Msg.AfterLsn)
	if last == 0 || last > bus.LastLSN() {
		last = bus.LastLSN()
	}
	if err := stream.Send(&inspectorv1.ChangesResponse{CommittedLsn: uint64(last)}); err != nil {
		return err
	}
	t := time.NewTicker(s.in.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.in.done:
			return inspectorClosed()
		case <-t.C:
		}
		cur := bus.LastLSN()
		if cur <= last {
			if err := s.unusableErr(); err != nil {
				return err
			}
			continue
		}
		msg := &inspectorv1.ChangesResponse{CommittedLsn: uint64(cur)}
		if cur-last > maxChangeScan {
			msg.PagesTruncated = true
		} else if err := s.changedPages(ctx, last, cur, msg); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if err := stream.Send(msg); err != nil {
			return err
		}
		last = cur
	}
}

// changedPages sets msg.Pages to the pages written in (last, cur], or
// msg.PagesTruncated when they are more than maxChangedPages or not all
// known: the span was trimmed from the log, or every log query slot is
// taken. A scan reads the log, so it holds one of the server's log query
// slots; refused one, it reads nothing and the view re-reads what it shows
// (the stream does not end: it is the UI's only sign of life, and would
// reconnect to the same refusal).
func (s *service) changedPages(ctx context.Context, last, cur mmsb.LSN, msg *inspectorv1.ChangesResponse) error {
	release, err := s.logSlot()
	if err != nil {
		msg.PagesTruncated = true
		return nil
	}
	defer release()
	seen := map[mmsb.PageID]bool{}
	err = s.bus().QueryLog(changeReads(ctx), mmsb.LogQuery{FromLSN: last + 1, ToLSN: cur, Kinds: changeKinds}, func(op *mmsb.LoggedOp) bool {
		id := op.Op.Page
		if op.Op.Kind == mmsb.OpDelta || op.Op.Kind == mmsb.OpDerived {
			id = op.Op.Delta.Page
		}
		if id == 0 || seen[id] {
			return true
		}
		if len(msg.Pages) == maxChangedPages {
			msg.PagesTruncated = true
			return false
		}
		seen[id] = true
		msg.Pages = append(msg.Pages, uint64(id))
		return true
	})
	switch {
	case errors.Is(err, mmsb.ErrLogTruncated):
		// A client resuming from an LSN a checkpoint trimmed away: the
		// pages written in the trimmed span are unknown.
		msg.PagesTruncated = true
	case err != nil:
		return connectErr(err)
	}
	// A trim during the scan (trims only move the oldest LSN forward, so
	// checking after the scan sees it).
	if oldest := s.oldestLSN(); oldest > last+1 {
		msg.PagesTruncated = true
	}
	return nil
}

func (s *service) Events(ctx context.Context, _ *connect.Request[inspectorv1.EventsRequest], stream *connect.ServerStream[inspectorv1.Event]) error {
	release, err := s.openStream("Events")
	if err != nil {
		return err
	}
	defer release()
	var seq uint64
	for {
		evs, next, woken := s.in.events.since(seq)
		for _, ev := range evs {
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
		seq = next
		select {
		case <-ctx.Done():
			return nil
		case <-s.in.done:
			return inspectorClosed()
		case <-woken:
		}
	}
}
