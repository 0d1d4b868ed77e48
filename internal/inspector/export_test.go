package inspector

import (
	"context"

	"connectrpc.com/connect"

	"github.com/mmsb-go/mmsb"
	inspectorv1 "github.com/mmsb-go/mmsb/gen/mmsb/inspector/v1"
)

// SetStreamHooks sets the functions called when a Changes or Events stream
// has taken its token (opened) and after it gave it back (closed), so that
// a test knows how many streams are open without waiting on a clock. Set
// them before any stream starts.
func SetStreamHooks(in *Inspector, opened, closed func()) {
	in.streamOpened, in.streamClosed = opened, closed
}

// EventText is eventText.
var EventText = eventText

// HoldTableScans takes every token of the ListPages calls that read every
// page, as that many such listings running would, until release.
func HoldTableScans(in *Inspector) (release func()) {
	for range cap(in.tableScans) {
		in.tableScans <- struct{}{}
	}
	return func() {
		for range cap(in.tableScans) {
			<-in.tableScans
		}
	}
}

// SetScanHook sets the function called each time a ListPages that reads
// every page looks at its context (every ScanCheckEvery pages), so that a
// test cancels one mid-scan and counts how far it went without a clock.
// Set it before any such listing starts.
func SetScanHook(in *Inspector, f func()) { in.scanChecked = f }

// SetPageReadHook sets the function GetPage calls after it read the page
// and before it reads the page's binding, so that a test rebinds the page
// between the two. Set it before any GetPage.
func SetPageReadHook(in *Inspector, f func()) { in.pageRead = f }

// ScanCheckEvery is scanCheckEvery.
const ScanCheckEvery = scanCheckEvery

// TableScansTaken is how many table-scan tokens are taken now.
func TableScansTaken(in *Inspector) int { return len(in.tableScans) }

// ListPagesWith calls ListPages on in's service directly, with ctx as the
// handler's own context: through a client, a cancelled call returns at
// once on the client side, before the handler has seen it.
func ListPagesWith(ctx context.Context, in *Inspector, req *inspectorv1.ListPagesRequest) (*inspectorv1.ListPagesResponse, error) {
	res, err := (&service{in: in}).ListPages(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// SearchPages calls the service's searchPages on in: the IDs a ListPages
// search matches, before sorting and paging.
func SearchPages(ctx context.Context, in *Inspector, search string) ([]mmsb.PageID, error) {
	return (&service{in: in}).searchPages(ctx, search)
}

// GetPageWith calls GetPage on in's service directly: the allocations a
// test measures are then the handler's, without a client's and a
// server's.
func GetPageWith(ctx context.Context, in *Inspector, req *inspectorv1.GetPageRequest) (*inspectorv1.GetPageResponse, error) {
	res, err := (&service{in: in}).GetPage(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// GraphWith calls Graph on in's service directly: the allocations a test
// measures are then the handler's.
func GraphWith(ctx context.Context, in *Inspector, req *inspectorv1.GraphRequest) (*inspectorv1.GraphResponse, error) {
	res, err := (&service{in: in}).Graph(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// SetAnswerHold sets the function the service counts the bytes of its
// large answers with, instead of server.HoldAnswer. Set it before any call.
func SetAnswerHold(in *Inspector, f func(ctx context.Context, what string, n int) error) {
	in.holdAnswer = f
}

// SetAnswerDrop sets the function the service gives back what it counted
// of an answer with (its first keep bytes kept), instead of
// server.DropAnswer. Set it before any call.
func SetAnswerDrop(in *Inspector, f func(ctx context.Context, keep int)) {
	in.dropAnswer = f
}

// ChangedPagesWith calls the Changes stream's scan of (last, cur] on in's
// service directly: the allocations a test measures are then the scan's.
func ChangedPagesWith(ctx context.Context, in *Inspector, last, cur mmsb.LSN) (*inspectorv1.ChangesResponse, error) {
	msg := &inspectorv1.ChangesResponse{CommittedLsn: uint64(cur)}
	if err := (&service{in: in}).changedPages(ctx, last, cur, msg); err != nil {
		return nil, err
	}
	return msg, nil
}
