package validate

import (
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// The per-page invariants (page-size, finite-f64) count a page as checked
// only when they read it: a page freed since the listing is skipped, and a
// read that fails otherwise (here: the bus closed under the check) is a
// problem of kind "failed". Both used to skip every failed read silently
// and count the page as holding.
func TestPerPageInvariantsReportFailedReads(t *testing.T) {
	e := openBus(t, vfs.NewMem(), nil)
	populate(t, e, 4, 1)
	extra, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 64, Meta: f64Meta()}})
	if err != nil {
		t.Fatal(err)
	}
	pages, err := e.Pages()
	if err != nil {
		t.Fatal(err)
	}
	lastLSN := e.LastLSN()

	// A page freed after the listing: skipped by both, no problem.
	if err := e.FreePage(ctx, extra[0]); err != nil {
		t.Fatal(err)
	}
	r, rep := newReporter("invariants", &Options{})
	mustNil(t, checkSizes(ctx, e, pages, lastLSN, r))
	mustNil(t, checkFinite(ctx, e, pages, r))
	if rep.Total != 0 || rep.Skipped != 2 || rep.Checked != int64(2*(len(pages)-1)) {
		t.Fatalf("after a free: %d problems %v, %d skipped, %d checked; want 0, 2 skipped, %d checked",
			rep.Total, rep.Problems, rep.Skipped, rep.Checked, 2*(len(pages)-1))
	}

	// The bus closed: every read fails, every page is a problem.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	r, rep = newReporter("invariants", &Options{})
	mustNil(t, checkSizes(ctx, e, pages, lastLSN, r))
	mustNil(t, checkFinite(ctx, e, pages, r))
	if rep.Total != int64(2*len(pages)) {
		t.Fatalf("closed bus: %d problems, want %d (one per page and check): %v", rep.Total, 2*len(pages), rep.Problems)
	}
	for _, p := range rep.Problems {
		if p.Kind != KindFailed {
			t.Fatalf("closed bus: problem %+v, want kind %q", p, KindFailed)
		}
	}
}
