package validate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/tick"
)

// ErrInvalidInvariant means Register was given an empty name, a nil function or
// a name already in use.
var ErrInvalidInvariant = errors.New("validate: invalid invariant")

// ErrUnknownValidator means Strict was given a name that Lookup does not know.
var ErrUnknownValidator = errors.New("validate: unknown validator")

// Built-in invariant names, in the order they run.
const (
	InvEpochMonotonic    = "epoch-monotonic"    // epochs never go back; they move only with a write
	InvPageSize          = "page-size"          // page bytes match their declared size; totals match Stats
	InvAcyclic           = "acyclic"            // the dependency graph has no cycle
	InvDerivedConsistent = "derived-consistent" // an up-to-date derived page equals its function of its parents
	InvFiniteF64         = "finite-f64"         // pages declared "mmsb.type"="f64" hold no NaN or Inf; no page declares an unknown type
)

// Invariants runs the built-in invariants and user-registered ones. It
// remembers each page's epoch and last write from its previous run, so that
// the epoch invariant compares consecutive runs. Safe for concurrent use.
type Invariants struct {
	mu   sync.Mutex
	user []userInvariant // sorted by name
	prev map[mmsb.PageID]pageSnap
	// Disabled built-ins, by name.
	disabled map[string]bool
}

type userInvariant struct {
	name string
	fn   func(*mmsb.Bus) error
}

type pageSnap struct {
	epoch mmsb.Epoch
	last  mmsb.LSN
}

// NewInvariants returns a runner with every built-in enabled and no user
// invariant.
func NewInvariants() *Invariants {
	return &Invariants{disabled: map[string]bool{}}
}

// Register adds a user invariant: fn returns an error describing the
// violation, or nil. User invariants run after the built-ins, in name
// order; a panic is reported as a violation.
func (iv *Invariants) Register(name string, fn func(*mmsb.Bus) error) error {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if name == "" || fn == nil {
		return fmt.Errorf("%w: name %q (need a name and a function)", ErrInvalidInvariant, name)
	}
	i := sort.Search(len(iv.user), func(i int) bool { return iv.user[i].name >= name })
	if i < len(iv.user) && iv.user[i].name == name {
		return fmt.Errorf("%w: %q already registered", ErrInvalidInvariant, name)
	}
	iv.user = append(iv.user, userInvariant{})
	copy(iv.user[i+1:], iv.user[i:])
	iv.user[i] = userInvariant{name: name, fn: fn}
	return nil
}

// Disable turns a built-in invariant off (e.g. InvDerivedConsistent on a
// bus whose functions are slow).
func (iv *Invariants) Disable(name string) {
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if iv.disabled == nil {
		iv.disabled = map[string]bool{} // a zero Invariants is usable too
	}
	iv.disabled[name] = true
}

// CheckInvariants runs the built-in invariants once on the target (with no
// previous snapshot, so the epoch invariant only checks epochs against
// last writes).
func CheckInvariants(ctx context.Context, t Target, o Options) (Report, error) {
	if err := begin(ctx, "invariants", o); err != nil {
		return Report{Name: "invariants"}, err
	}
	e, done, err := t.open(ctx)
	if err != nil {
		return Report{Name: "invariants"}, err
	}
	defer done()
	return NewInvariants().Check(ctx, e, o)
}

// Check runs every enabled invariant on e and returns one report. Checked
// counts invariant evaluations (per page for per-page invariants). A nil
// bus is ErrNoTarget; a cancelled ctx ends it between two pages, bindings
// or user invariants with ctx's error (wrapped); cancelled during the
// epoch invariant, it keeps the previous run's snapshot.
func (iv *Invariants) Check(ctx context.Context, e *mmsb.Bus, o Options) (Report, error) {
	if e == nil {
		return Report{Name: "invariants"}, fmt.Errorf("%w: Invariants.Check was given a nil bus", ErrNoTarget)
	}
	if err := begin(ctx, "invariants", o); err != nil {
		return Report{Name: "invariants"}, err
	}
	if err := Live(e).closed(); err != nil {
		return Report{Name: "invariants"}, err // also for a bus that failed before it closed
	}
	iv.mu.Lock()
	defer iv.mu.Unlock()
	start := time.Now()
	r, rep := newReporter("invariants", &o)
	// The listing lies between two reads of the last LSN: no page in it
	// was written after lastLSN (the epoch bound), and Stats read at
	// listedLSN saw no write since before the listing (the totals). With
	// one read after the listing, a write between the two made the totals
	// differ on a healthy bus (TestInvariantsTotalsOnAMovingBus).
	listedLSN := e.LastLSN()
	pages, err := e.Pages()
	if err != nil {
		return Report{Name: "invariants"}, err
	}
	if afterListing != nil {
		afterListing()
	}
	lastLSN := e.LastLSN()
	if !iv.disabled[InvEpochMonotonic] {
		if err := iv.checkEpochs(ctx, pages, lastLSN, r); err != nil {
			return *rep, err
		}
	}
	if !iv.disabled[InvPageSize] {
		if err := checkSizes(ctx, e, pages, listedLSN, r); err != nil {
			return *rep, err
		}
	}
	if !iv.disabled[InvAcyclic] {
		rep.Checked++
		v, err := ViewOf(e)
		if err != nil {
			// The bus closed between Pages and here: the check could not
			// look at the graph (it was reported as a cycle).
			r.addf(KindFailed, 0, 0, InvAcyclic, "graph could not be read: %v", err)
		} else if err := checkAcyclic(ctx, v, r); err != nil {
			return *rep, err
		}
	}
	if !iv.disabled[InvDerivedConsistent] {
		var compared int64
		for _, id := range e.Bindings() {
			if err := ctxErr(ctx, "invariants"); err != nil {
				return *rep, err
			}
			rep.Checked++
			// Only pages whose latest derivation read the parents' current
			// writes can be compared; the others are counted as skipped.
			checked, _, _, err := checkBinding(ctx, e, id, 1, r, false)
			if err != nil {
				return *rep, err
			}
			if checked {
				compared++
			} else {
				rep.Skipped++
			}
		}
		// How many derived pages were really compared with their function:
		// a bus that never propagates leaves every one stale, skipped, and
		// the invariant silent (callers that expect every derived page up
		// to date, like benchmark #8, require this to equal the bindings).
		r.figure("derived_compared", float64(compared))
	}
	if !iv.disabled[InvFiniteF64] {
		if err := checkFinite(ctx, e, pages, r); err != nil {
			return *rep, err
		}
	}
	for _, u := range iv.user {
		if err := ctxErr(ctx, "invariants"); err != nil {
			return *rep, err
		}
		rep.Checked++
		if err := callUser(u.fn, e); err != nil {
			r.addf(KindInvariant, 0, 0, u.name, "%v", err)
		}
	}
	rep.Duration = time.Since(start)
	return *rep, nil
}

// afterListing, when set (by a test only), runs in Check between the
// page listing and the read of the last LSN that follows it: where a
// concurrent write can land.
var afterListing func()

func callUser(fn func(*mmsb.Bus) error, e *mmsb.Bus) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return fn(e)
}

// checkEpochs compares each page with the previous run and with the last
// LSN: an epoch may only grow, and only together with the page's last
// write; a page's last write is never beyond the bus's last LSN.
func (iv *Invariants) checkEpochs(ctx context.Context, pages []mmsb.PageInfo, lastLSN mmsb.LSN, r *reporter) error {
	next := make(map[mmsb.PageID]pageSnap, len(pages))
	for k, p := range pages {
		if k&255 == 255 {
			if err := ctxErr(ctx, "invariants"); err != nil {
				return err // iv.prev kept: the next run compares with the last whole one
			}
		}
		r.rep.Checked++
		next[p.ID] = pageSnap{epoch: p.Epoch, last: p.LastLSN}
		if p.LastLSN > lastLSN {
			r.addf(KindEpoch, p.LastLSN, p.ID, InvEpochMonotonic, "page %d last written at LSN %d, beyond the bus's last LSN %d", p.ID, p.LastLSN, lastLSN)
		}
		old, ok := iv.prev[p.ID]
		if !ok {
			continue
		}
		switch {
		case p.Epoch < old.epoch && p.LastLSN <= old.last:
			// A re-created page restarts at epoch 0 but has a newer last LSN.
			r.addf(KindEpoch, p.LastLSN, p.ID, InvEpochMonotonic, "page %d epoch went back from %d to %d with no newer write (last LSN %d, was %d)", p.ID, old.epoch, p.Epoch, p.LastLSN, old.last)
		case p.Epoch != old.epoch && p.LastLSN == old.last:
			r.addf(KindEpoch, p.LastLSN, p.ID, InvEpochMonotonic, "page %d epoch changed from %d to %d without a write (last LSN still %d)", p.ID, old.epoch, p.Epoch, p.LastLSN)
		case p.LastLSN < old.last:
			r.addf(KindEpoch, p.LastLSN, p.ID, InvEpochMonotonic, "page %d last write went back from LSN %d to %d", p.ID, old.last, p.LastLSN)
		}
	}
	iv.prev = next
	return nil
}

// checkSizes checks every page's bytes against its size and the totals
// against Stats; listedLSN is the bus's last LSN read before the listing
// (the totals are compared only when Stats says no write came since).
func checkSizes(ctx context.Context, e *mmsb.Bus, pages []mmsb.PageInfo, listedLSN mmsb.LSN, r *reporter) error {
	var logical int64
	var buf []byte
	for k, p := range pages {
		if k&63 == 63 {
			if err := ctxErr(ctx, "invariants"); err != nil {
				return err
			}
		}
		r.rep.Checked++
		logical += int64(p.Size)
		if p.Size <= 0 || p.Size > base.MaxPageSize {
			r.addf(KindSize, p.LastLSN, p.ID, InvPageSize, "page %d has size %d", p.ID, p.Size)
		}
		var err error
		buf, _, err = e.ReadPage(p.ID, buf[:0])
		if !readChecked(err, p.ID, InvPageSize, r) {
			continue
		}
		if len(buf) != p.Size {
			r.addf(KindSize, p.LastLSN, p.ID, InvPageSize, "page %d holds %d bytes, declared size %d", p.ID, len(buf), p.Size)
		}
	}
	st := e.Stats()
	// Pages and Stats are separate reads: compare the totals only when no
	// write happened in between (a moving bus is caught by the next run).
	if st.LastLSN == listedLSN && (st.Pages != len(pages) || st.LogicalBytes != logical) {
		r.addf(KindSize, 0, 0, InvPageSize, "stats report %d pages / %d logical bytes, pages sum to %d / %d", st.Pages, st.LogicalBytes, len(pages), logical)
	}
	return nil
}

// checkAcyclic reports the graph validator's first finding on v's pages
// and edges as an acyclic problem; it returns ctx's error (wrapped) when
// ctx ended. It takes the view, not the bus, so that a test can feed it a
// cycle no live bus can hold (TestInvariantsFindingsALiveBusCannotReach).
func checkAcyclic(ctx context.Context, v GraphView, r *reporter) error {
	g, _ := newReporter("acyclic", &Options{})
	if err := checkGraph(ctx, GraphView{Pages: v.Pages, Edges: v.Edges}, g); err != nil {
		return err
	}
	if g.rep.Total > 0 {
		r.addf(KindCycle, 0, 0, InvAcyclic, "%s", g.rep.Problems[0].What)
	}
	return nil
}

// readChecked reports whether a per-page invariant read page id (err
// from its ReadPage). A page freed since the listing is skipped (a moving
// bus: the next run sees the new state), anything else is a problem of
// KindFailed: an invariant that could not look at a page must not count
// it as holding (both checks used to skip every failed read silently).
func readChecked(err error, id mmsb.PageID, inv string, r *reporter) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, mmsb.ErrPageNotFound):
		r.rep.Checked--
		r.rep.Skipped++
	default:
		r.addf(KindFailed, 0, id, inv, "page %d could not be read: %v", id, err)
	}
	return false
}

// elementTypes are the values of mmsb.TypeMetaKey (its doc lists them).
var elementTypes = []string{"f64", "i64", "bool"}

// checkFinite checks that float64 pages hold no NaN or Inf, and that no
// page declares an element type other than elementTypes: "F64" or
// "float64" turned this check off for the page without a word
// (TestInvariantsReportUnknownType).
func checkFinite(ctx context.Context, e *mmsb.Bus, pages []mmsb.PageInfo, r *reporter) error {
	var buf []byte
	for k, p := range pages {
		if k&63 == 63 {
			if err := ctxErr(ctx, "invariants"); err != nil {
				return err
			}
		}
		if typ, ok := declaredType(p); ok && !slices.Contains(elementTypes, typ) {
			r.rep.Checked++
			r.addf(KindSchema, p.LastLSN, p.ID, InvFiniteF64, "page %d declares %s %s, not an element type (%q): no check reads its values as a type",
				p.ID, mmsb.TypeMetaKey, shownType(typ), elementTypes)
			continue
		}
		if !isF64(p) {
			continue
		}
		r.rep.Checked++
		if p.Size%8 != 0 {
			r.addf(KindSize, p.LastLSN, p.ID, InvFiniteF64, "f64 page %d has size %d, not a multiple of 8", p.ID, p.Size)
		}
		var err error
		buf, _, err = e.ReadPage(p.ID, buf[:0])
		if !readChecked(err, p.ID, InvFiniteF64, r) {
			continue
		}
		bad, first := 0, -1
		for k := 0; k+8 <= len(buf); k += 8 {
			v := f64At(buf, k)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				if first < 0 {
					first = k / 8
				}
				bad++
			}
		}
		if bad > 0 {
			r.addf(KindNonFinite, p.LastLSN, p.ID, InvFiniteF64, "f64 page %d holds %d NaN/Inf value(s), first at element %d (%v)", p.ID, bad, first, f64At(buf, first*8))
		}
	}
	return nil
}

// maxShownType bounds the bytes of a declared type a problem quotes.
const maxShownType = 64

// shownType quotes an element type as a problem names it: whole up to
// maxShownType bytes, else its first maxShownType, marked cut, and its
// length. A value is up to 64 KiB of metadata, quoted as up to 256 KiB
// (\xff for each byte of 0xff): a line of that much for every such page
// in `mmsb check`'s output and each report (TestUnknownTypeShownCut).
func shownType(typ string) string {
	if len(typ) <= maxShownType {
		return fmt.Sprintf("%q", typ)
	}
	return fmt.Sprintf("%q… (%d bytes)", typ[:maxShownType], len(typ))
}

// declaredType returns page p's mmsb.TypeMetaKey value, if it has one.
func declaredType(p mmsb.PageInfo) (string, bool) {
	for _, m := range p.Meta {
		if m.Key == mmsb.TypeMetaKey {
			return string(m.Value), true
		}
	}
	return "", false
}

// Attach registers the invariants as an orchestrator hook run every
// `every` ticks under the name "validate.invariants". onReport (optional)
// receives every report; the hook fails (an EventInvariantFailed) when
// problems are found.
func (iv *Invariants) Attach(o *tick.Orchestrator, every int, opts Options, onReport func(Report)) error {
	if o == nil {
		return fmt.Errorf("%w: Invariants.Attach was given a nil orchestrator", ErrNoTarget)
	}
	if err := opts.Check(); err != nil {
		return err // refused now, not on every tick
	}
	e := o.Bus()
	return o.RegisterInvariant("validate.invariants", every, func() error {
		rep, err := iv.Check(context.Background(), e, opts)
		if onReport != nil {
			onReport(rep)
		}
		if err != nil {
			return err
		}
		return rep.Err()
	})
}

// Strict registers validators to run after every tick (strict mode, as in
// a test harness), each as its own hook "validate.<name>". Offline-only
// costs apply: Replay and Integrity read the whole log each time. No
// names, or an unknown one, is ErrUnknownValidator and registers nothing:
// a strict mode that checks nothing must not look like one that passes.
func Strict(o *tick.Orchestrator, opts Options, onReport func(Report), names ...string) error {
	if o == nil {
		return fmt.Errorf("%w: Strict was given a nil orchestrator", ErrNoTarget)
	}
	if err := opts.Check(); err != nil {
		return err // refused now, not on every tick
	}
	t := Live(o.Bus())
	known := make([]string, 0, len(All()))
	for _, v := range All() {
		known = append(known, v.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("%w: Strict was given no validator names (known: %s)", ErrUnknownValidator, strings.Join(known, ", "))
	}
	fns := make([]Func, len(names))
	for i, name := range names {
		fn, ok := Lookup(name)
		if !ok {
			return fmt.Errorf("%w: %q (known: %s)", ErrUnknownValidator, name, strings.Join(known, ", "))
		}
		fns[i] = fn
	}
	for i, name := range names {
		fn := fns[i]
		err := o.RegisterInvariant("validate."+name, 1, func() error {
			rep, err := fn(context.Background(), t, opts)
			if onReport != nil {
				onReport(rep)
			}
			if err != nil {
				return err
			}
			return rep.Err()
		})
		if err != nil {
			return err
		}
	}
	return nil
}
