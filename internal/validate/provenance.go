package validate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// DefaultProvenanceSamples is how many pages Provenance samples when
// Options.Samples is 0.
const DefaultProvenanceSamples = 64

// provFunc answers a provenance query (mmsb.Provenance, or a fake in the
// negative-control tests).
type provFunc func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error)

// Provenance samples pages (Options.Samples, chosen with Options.Seed),
// asks mmsb.Provenance about a random byte range of each, and checks
// every answer against one forward scan of the log: the answer's LSN must
// be the last operation up to the page's last write that wrote a byte of
// the range (decoded exactly, creations and frees included); every write
// it lists must be logged at its LSN as an operation on its page of the
// stated kind; the parents listed under a derived write must be exactly
// the parent reads its log record holds. Samples whose history is older
// than the log are counted as skipped. Checked counts samples.
func Provenance(ctx context.Context, t Target, o Options) (Report, error) {
	if err := begin(ctx, "provenance", o); err != nil {
		return Report{Name: "provenance"}, err
	}
	e, done, err := t.open(ctx)
	if err != nil {
		return Report{Name: "provenance"}, err
	}
	defer done()
	prov := func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error) {
		return e.Provenance(ctx, id, off, n, 0)
	}
	rep, err := checkProvenance(ctx, e, o, prov)
	if err == nil && t.Engine == nil && rep.NotCompared != "" {
		// Name the cause: the rebuilt bus answers every range as lost.
		rep.NotCompared = "offline, the bus rebuilt from the directory keeps no log: " + rep.NotCompared
		rep.Notes[len(rep.Notes)-1] = "not compared: " + rep.NotCompared
	}
	return rep, err
}

// ProvenanceWith is Provenance on a live bus with the answers given by ask
// instead of e.Provenance (depth 0): the seam through which negative
// controls (internal/harness's #10) feed the validator answers that
// disagree with the log.
func ProvenanceWith(ctx context.Context, e *mmsb.Bus, o Options, ask func(ctx context.Context, id mmsb.PageID, off, n int) (*mmsb.ProvenanceResult, error)) (Report, error) {
	if e == nil || ask == nil {
		return Report{Name: "provenance"}, fmt.Errorf("%w: ProvenanceWith needs a bus and a function (bus nil %v, ask nil %v)", ErrNoTarget, e == nil, ask == nil)
	}
	if err := begin(ctx, "provenance", o); err != nil {
		return Report{Name: "provenance"}, err
	}
	return checkProvenance(ctx, e, o, ask)
}

type provSample struct {
	page    mmsb.PageID
	lo, hi  uint32
	upto    mmsb.LSN // the page's last write when asked
	res     *mmsb.ProvenanceResult
	want    mmsb.LSN // last writer found in the log
	wantSet bool
}

// loggedOp is what the check needs of a logged operation.
type loggedOp struct {
	kind  record.OpKind
	page  mmsb.PageID
	reads []record.ParentRead
}

func checkProvenance(ctx context.Context, e *mmsb.Bus, o Options, prov provFunc) (Report, error) {
	start := time.Now()
	r, rep := newReporter("provenance", &o)
	ids, err := e.PageIDs()
	if err != nil {
		return Report{Name: "provenance"}, err
	}
	n := o.Samples
	if n == 0 {
		n = DefaultProvenanceSamples
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	if n > 0 && n < len(ids) {
		// A deterministic sample: shuffle with the seed, keep n, ask in ID order.
		rng.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		ids = ids[:n]
		slices.Sort(ids)
	}
	var samples []*provSample
	for _, id := range ids {
		// An answer function may ignore ctx (ProvenanceWith's may be
		// anything): the loop itself stops.
		if err := ctxErr(ctx, "provenance"); err != nil {
			return *rep, err
		}
		info, err := e.Page(id)
		if err != nil {
			continue // freed meanwhile
		}
		lo := uint32(rng.IntN(info.Size))
		hi := lo + 1 + uint32(rng.IntN(min(info.Size-int(lo), 64)))
		res, err := prov(ctx, id, int(lo), int(hi-lo))
		if err != nil {
			if err := ctxErr(ctx, "provenance"); err != nil {
				return *rep, err // the query ended with ctx: not a finding
			}
			r.addf(KindFailed, 0, id, fmt.Sprintf("page %d [%d, %d)", id, lo, hi), "provenance query failed: %v", err)
			continue
		}
		if res == nil || len(res.Writes) == 0 {
			// Every page has a last writer (its creation at least), and the
			// checks below start from it: an empty answer is wrong, not a
			// crash (it was indexed and panicked).
			r.addf(KindProvenance, 0, id, fmt.Sprintf("page %d [%d, %d)", id, lo, hi), "provenance answer lists no write")
			continue
		}
		after, err := e.Page(id)
		if err != nil || after.LastLSN != info.LastLSN {
			rep.Skipped++ // written while asked: the answer may be either
			continue
		}
		samples = append(samples, &provSample{page: id, lo: lo, hi: hi, upto: info.LastLSN, res: res})
	}
	// The LSNs whose log records must be inspected.
	need := map[mmsb.LSN]*loggedOp{}
	byPage := map[mmsb.PageID][]*provSample{}
	for _, s := range samples {
		byPage[s.page] = append(byPage[s.page], s)
		for _, w := range s.res.Writes {
			if !w.Lost && w.LSN != 0 {
				need[w.LSN] = nil
			}
		}
	}
	first, err := scanLogForProvenance(ctx, e, byPage, need)
	if err != nil {
		return *rep, err
	}
	skippedBefore := rep.Skipped
	for _, s := range samples {
		rep.Checked++
		checkSample(s, need, first, r, rep)
	}
	compared := int64(len(samples)) - (rep.Skipped - skippedBefore)
	if rep.Total == 0 && rep.Skipped > 0 && compared == 0 {
		// Every sample was skipped: no answer met the log, so a pass
		// would prove nothing (offline, the bus rebuilt from the
		// directory keeps no log and answers every range as lost).
		rep.NotCompared = fmt.Sprintf("none of %d sample(s) could be compared with the log (each written while asked, or its last writer older than the log)", rep.Skipped)
		r.note("not compared: %s", rep.NotCompared)
	}
	rep.Duration = time.Since(start)
	return *rep, nil
}

// scanLogForProvenance scans the log once, computing each sample's last
// writer and recording the ops at the needed LSNs. It returns the log's
// first LSN.
func scanLogForProvenance(ctx context.Context, e *mmsb.Bus, byPage map[mmsb.PageID][]*provSample, need map[mmsb.LSN]*loggedOp) (mmsb.LSN, error) {
	if err := e.Flush(ctx); err != nil {
		return 0, err
	}
	rd, err := tlog.NewReader(e.FS(), e.WALDir(), 0)
	if err != nil {
		return 0, nil // no log: every sample is skipped
	}
	defer rd.Close()
	var dec record.Decoder
	var op record.Op
	var first mmsb.LSN
	for k := 0; ; k++ {
		if k&255 == 255 {
			if err := ctxErr(ctx, "provenance"); err != nil {
				return first, err
			}
		}
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return first, nil
		}
		if err != nil {
			return first, fmt.Errorf("validate: provenance: read log: %w", err)
		}
		if first == 0 {
			first = rec.FirstLSN
		}
		if err := dec.Reset(rec.Payload); err != nil {
			return first, fmt.Errorf("validate: provenance: %s offset %d: %w", rec.File, rec.Offset, err)
		}
		for l := rec.FirstLSN; l <= rec.LastLSN(); l++ {
			if err := dec.Next(&op); err != nil {
				return first, fmt.Errorf("validate: provenance: %s offset %d: %w", rec.File, rec.Offset, err)
			}
			var pg mmsb.PageID
			switch op.Kind {
			case record.OpDelta, record.OpDerived:
				pg = op.Delta.Page
			default:
				pg = op.Page
			}
			if _, ok := need[l]; ok {
				need[l] = &loggedOp{kind: op.Kind, page: pg, reads: slices.Clone(op.Reads)}
			}
			for _, s := range byPage[pg] {
				if l > s.upto {
					continue
				}
				switch op.Kind {
				case record.OpCreatePage:
					s.want, s.wantSet = l, true
				case record.OpFreePage:
					s.want, s.wantSet = 0, false
				case record.OpDelta, record.OpDerived:
					hit := false
					delta.Ranges(&op.Delta, func(off, n uint32) {
						if off < s.hi && s.lo < off+n {
							hit = true
						}
					})
					if hit {
						s.want, s.wantSet = l, true
					}
				}
			}
		}
	}
}

// checkSample compares one answer with the log.
func checkSample(s *provSample, logged map[mmsb.LSN]*loggedOp, first mmsb.LSN, r *reporter, rep *Report) {
	where := fmt.Sprintf("page %d [%d, %d)", s.page, s.lo, s.hi)
	got := s.res.Writes[0]
	if !s.wantSet {
		// The log does not hold the last writer (older than the log, or no
		// log): only an answer the log cannot contradict is acceptable.
		if got.Lost || first == 0 || got.LSN < first {
			rep.Skipped++
			return
		}
		r.addf(KindProvenance, got.LSN, s.page, where, "provenance names LSN %d, but the log holds no write of the range up to LSN %d", got.LSN, s.upto)
		return
	}
	if got.Lost || got.LSN != s.want {
		r.addf(KindProvenance, got.LSN, s.page, where, "provenance names LSN %d (lost %v), the log's last writer of the range is LSN %d", got.LSN, got.Lost, s.want)
	}
	for i, w := range s.res.Writes {
		if w.Lost || w.LSN == 0 {
			continue
		}
		op := logged[w.LSN]
		if op == nil {
			if first == 0 || w.LSN < first {
				continue // older than the log: cannot be checked
			}
			r.addf(KindProvenance, w.LSN, w.Page, where, "write %d names LSN %d, which the log does not hold", i, w.LSN)
			continue
		}
		if op.page != w.Page || mmsb.OpKind(op.kind) != w.Kind || w.Derived != (op.kind == record.OpDerived) {
			r.addf(KindProvenance, w.LSN, w.Page, where, "write %d says LSN %d is a %v of page %d (derived %v), the log holds a %v of page %d", i, w.LSN, w.Kind, w.Page, w.Derived, op.kind, op.page)
			continue
		}
		if w.Repeat {
			// A repeat's parents are listed under its first occurrence,
			// which must be there: a write marked Repeat without one hid
			// the rest of the chain from this check.
			if !slices.ContainsFunc(s.res.Writes[:i], func(x mmsb.ProvenanceWrite) bool { return x.LSN == w.LSN && !x.Repeat && !x.Lost }) {
				r.addf(KindProvenance, w.LSN, w.Page, where, "write %d is marked a repeat of LSN %d, which no earlier write lists", i, w.LSN)
			}
			continue
		}
		if !w.Derived {
			continue
		}
		var listed []record.ParentRead
		for _, c := range s.res.Writes {
			if c.Parent == i {
				listed = append(listed, record.ParentRead{Page: c.Page, LSN: c.LSN})
			}
		}
		// A truncated answer may leave parents out, but only where the walk
		// stops: at the depth limit (the validator asks with depth 0, the
		// default), or anywhere once the answer holds MaxProvenanceWrites
		// writes (then a write's parents may be cut short too). Any
		// answer that dropped a derivation's parents passed by saying
		// Truncated.
		if s.res.Truncated {
			if len(listed) == 0 && w.Depth >= mmsb.DefaultProvenanceDepth {
				continue
			}
			if len(s.res.Writes) >= mmsb.MaxProvenanceWrites && len(listed) <= len(op.reads) && slices.Equal(listed, op.reads[:len(listed)]) {
				continue
			}
		}
		if !slices.Equal(listed, op.reads) {
			r.addf(KindProvenance, w.LSN, w.Page, where, "derived write %d (LSN %d) lists parents %v, its log record read %v", i, w.LSN, listed, op.reads)
		}
	}
}
