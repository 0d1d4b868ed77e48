package validate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
)

// Replay checks deterministic replay. Online, it replays the log into a
// fresh bus from LSN 1 (or the oldest checkpoint when the log no longer
// holds LSN 1), and again from the newest checkpoint when there is one, and
// compares every page with the live state bit for bit
// (mmsb.VerifyReplay). Offline, it rebuilds the bus from LSN 1 and from
// the newest usable checkpoint (well framed, and loaded by the bus's own
// loader) and compares the two; when both would start
// from the same point (no usable checkpoint, or only the one the first
// replay starts from) nothing is compared and Report.NotCompared says so,
// as for a directory written without a log (Target.NoLog).
//
// Figures: comparisons (pairs of states compared), pages,
// pages_differing, bytes_differing, l2_divergence (over float64 pages,
// "mmsb.type"="f64"), summed over the comparisons made.
func Replay(ctx context.Context, t Target, o Options) (Report, error) {
	start := time.Now()
	r, rep := newReporter("replay", &o)
	if err := begin(ctx, "replay", o); err != nil {
		return *rep, err
	}
	if err := t.closed(); err != nil {
		return *rep, err // before the no-log case: a closed bus is not "not compared"
	}
	var tot replayTotals
	var err error
	if t.Engine != nil && t.Engine.Stats().NoLog {
		// VerifyReplay refuses a bus without a log (ErrInvalidOption):
		// the validator failed with that error where integrity, for the
		// same bus, said not compared (TestReplayLiveBusWithoutLog).
		rep.NotCompared = "the bus keeps no log (Options.DisableLog): there is no history to replay"
		r.note("not compared: %s", rep.NotCompared)
		rep.Duration = time.Since(start)
		return *rep, nil
	}
	if t.Engine != nil {
		err = replayLive(ctx, t.Engine, r, &tot)
	} else {
		err = replayOffline(ctx, t, r, &tot)
	}
	if err != nil {
		return *rep, err
	}
	rep.Checked = int64(tot.pages)
	r.figure("comparisons", float64(tot.comparisons))
	r.figure("pages", float64(tot.pages))
	r.figure("pages_differing", float64(tot.pagesDiff))
	r.figure("bytes_differing", float64(tot.bytesDiff))
	r.figure("l2_divergence", tot.l2)
	rep.Duration = time.Since(start)
	return *rep, nil
}

type replayTotals struct {
	pages, pagesDiff int
	comparisons      int // pairs of states compared
	bytesDiff        int64
	l2               float64
}

func replayLive(ctx context.Context, e *mmsb.Bus, r *reporter, tot *replayTotals) error {
	// A name that holds no checkpoint file is none (checkpoint.ListFiles):
	// with only such a name, the replay from the newest checkpoint has
	// none to start from.
	ckpts, _, err := checkpoint.ListFiles(e.FS(), e.CheckpointDir())
	if err != nil && !vfs.IsNotExist(err) {
		return err
	}
	modes := []bool{false}
	if len(ckpts) > 0 {
		modes = append(modes, true)
	}
	for _, fromNewest := range modes {
		vr, err := e.VerifyReplay(ctx, fromNewest)
		if err != nil {
			if errors.Is(err, mmsb.ErrCorruption) || errors.Is(err, mmsb.ErrLogTruncated) || errors.Is(err, mmsb.ErrNoCheckpoint) {
				r.addf(KindFailed, 0, 0, replayFrom(fromNewest), "replay failed: %v", err)
				continue
			}
			return err
		}
		where := replayFrom(fromNewest)
		tot.comparisons++
		tot.pages += vr.Pages
		tot.pagesDiff += vr.PagesDiffering
		tot.bytesDiff += vr.BytesDiffering
		tot.l2 = math.Hypot(tot.l2, vr.L2Divergence)
		for _, d := range vr.Differences {
			r.addf(KindDivergence, vr.LSN, 0, where, "%s", d)
		}
		if !vr.Equal() {
			r.addf(KindDivergence, vr.LSN, 0, where, "replay to LSN %d diverges: %d page(s) differ, %d byte(s) differ, L2 divergence %g, state hash live %016x replay %016x, graph equal %v",
				vr.LSN, vr.PagesDiffering, vr.BytesDiffering, vr.L2Divergence, vr.LiveHash, vr.ReplayHash, vr.GraphEqual)
		}
	}
	return nil
}

func replayFrom(fromNewest bool) string {
	if fromNewest {
		return "replay from newest checkpoint"
	}
	return "replay from LSN 1 (or oldest checkpoint)"
}

// replayOffline rebuilds the bus twice, from two different starting
// points, and compares the results: from LSN 1 (or, when the log no longer
// holds it, the oldest checkpoint) and from the newest usable checkpoint.
// When those are the same point (no usable checkpoint, or only the one the
// first replay starts from) the comparison would set a replay against
// itself and prove nothing: the report says "not compared" instead of
// passing.
func replayOffline(ctx context.Context, t Target, r *reporter, tot *replayTotals) error {
	fs, dir, err := t.location(ctx)
	if err != nil {
		return err
	}
	if t.NoLog {
		// Each checkpoint of a bus without a log is a state of its own:
		// none is replayed into another (the replay from the oldest
		// reached the end of the missing log before the newest).
		r.rep.NotCompared = "the directory was written by a bus without a log (Options.DisableLog): there is no log to replay from one checkpoint to another"
		r.note("not compared: %s", r.rep.NotCompared)
		return nil
	}
	// The listing recovery uses: a name that holds no checkpoint file is
	// passed over, as the replays below pass over it.
	ckpts, notFiles, err := checkpoint.ListFiles(fs, fs.Join(dir, "checkpoints"))
	if err != nil && !vfs.IsNotExist(err) {
		return err
	}
	for _, c := range notFiles {
		r.note("%s", c.PassedOver())
	}
	// Checkpoints that fail their checksums are named here; one that
	// verifies may still not load, and the replays pass over it: where
	// each really started is asked of it (Bus.Recovery), so that two
	// replays that started from one state are not compared as two.
	var unverified []string
	for _, c := range ckpts {
		if err := checkpoint.Verify(fs, c.Path); err != nil {
			r.note("checkpoint %s (LSN %d) is not usable as a starting point: %v", c.Path, c.LSN, err)
			unverified = append(unverified, c.Path)
		}
	}
	opts := &mmsb.Options{FS: fs, Functions: t.Funcs}
	first := "LSN 1"
	full, err := rebuild(ctx, dir, mmsb.ReplayTarget{FromEmpty: true}, opts)
	if errors.Is(err, mmsb.ErrLogTruncated) {
		r.note("log no longer holds LSN 1; replaying from the oldest checkpoint instead")
		first = "the oldest checkpoint"
		full, err = rebuild(ctx, dir, mmsb.ReplayTarget{FromOldestCheckpoint: true}, opts)
	}
	if err != nil {
		if errors.Is(err, mmsb.ErrCorruption) || errors.Is(err, mmsb.ErrLogTruncated) {
			r.addf(KindFailed, 0, 0, dir, "replay from %s failed: %v", first, err)
			return nil
		}
		return err
	}
	defer full.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	firstFrom := startedFrom(full.Recovery())
	newest, err := rebuild(ctx, dir, mmsb.ReplayTarget{}, opts)
	if err != nil {
		if errors.Is(err, mmsb.ErrCorruption) || errors.Is(err, mmsb.ErrLogTruncated) {
			r.addf(KindFailed, 0, 0, dir, "replay from the newest checkpoint failed: %v", err)
			return nil
		}
		return err
	}
	defer newest.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	for _, why := range newest.Recovery().SkippedCheckpoint {
		for _, c := range ckpts {
			if strings.Contains(why, c.Path) && !slices.Contains(unverified, c.Path) {
				r.note("checkpoint %s (LSN %d) is not usable as a starting point: it does not load: %s", c.Path, c.LSN, why)
			}
		}
	}
	newestFrom := startedFrom(newest.Recovery())
	if newestFrom == firstFrom {
		r.rep.NotCompared = fmt.Sprintf("only one starting point (%s; %d checkpoint(s)): both replays started from the same state", firstFrom, len(ckpts))
		r.note("not compared: %s", r.rep.NotCompared)
		return nil
	}
	return compareReplays(ctx, full, newest, firstFrom, newestFrom, r, tot)
}

// compareReplays compares two replays of one directory, a started from
// aFrom and b from bFrom: where each ended, then everything
// compareEngines compares. A separate function so that a test can feed it
// two buses that end at different LSNs, which two replays of one log do
// not (TestReplayCompareCatchesDifferentEnds).
func compareReplays(ctx context.Context, a, b *mmsb.Bus, aFrom, bFrom string, r *reporter, tot *replayTotals) error {
	tot.comparisons++
	where := fmt.Sprintf("replay from %s vs from %s", aFrom, bFrom)
	if x, y := a.LastLSN(), b.LastLSN(); x != y {
		r.addf(KindDivergence, 0, 0, where, "replays end at different LSNs: %d from %s, %d from %s", x, aFrom, y, bFrom)
	}
	return compareEngines(ctx, a, b, where, r, tot)
}

// rebuild is mmsb.Replay; a test replaces it to make the replay from the
// newest checkpoint fail after the one from LSN 1 succeeded, which a
// directory does only when it changes between the two
// (TestReplayOfflineReportsFailedNewestReplay).
var rebuild = mmsb.Replay

// startedFrom names where a detached replay started.
func startedFrom(rec mmsb.Recovery) string {
	if rec.Checkpoint == "" {
		return "LSN 1"
	}
	return fmt.Sprintf("checkpoint %s (LSN %d)", rec.Checkpoint, rec.CheckpointLSN)
}

// comparedBus is what compareEngines reads of a bus. *mmsb.Bus is the
// only one outside tests; a test wraps it to make a listing or a read
// fail, which a replayed bus does only when it is closed under the
// comparison (TestReplayCompareReportsFailedReads).
type comparedBus interface {
	Pages() ([]mmsb.PageInfo, error)
	ReadPage(id mmsb.PageID, dst []byte) ([]byte, mmsb.Epoch, error)
	Edges() []mmsb.Edge
	Bindings() []mmsb.PageID
	Binding(id mmsb.PageID) (mmsb.Binding, bool)
}

// compareEngines compares two quiescent engines page by page, reporting
// every difference; it returns ctx's error (wrapped) when ctx ends
// between two pages.
func compareEngines(ctx context.Context, a, b comparedBus, where string, r *reporter, tot *replayTotals) error {
	pa, errA := a.Pages()
	pb, errB := b.Pages()
	if err := errors.Join(errA, errB); err != nil {
		r.addf(KindFailed, 0, 0, where, "cannot list pages: %v", err)
		return nil
	}
	i, j := 0, 0
	var sumSq float64
	var bufA, bufB []byte
	for k := 0; i < len(pa) || j < len(pb); k++ {
		if k&63 == 63 {
			if err := ctxErr(ctx, "replay"); err != nil {
				return err
			}
		}
		switch {
		case j >= len(pb) || i < len(pa) && pa[i].ID < pb[j].ID:
			tot.pagesDiff++
			r.addf(KindDivergence, 0, pa[i].ID, where, "page %d exists only on the first side", pa[i].ID)
			i++
		case i >= len(pa) || pb[j].ID < pa[i].ID:
			tot.pagesDiff++
			r.addf(KindDivergence, 0, pb[j].ID, where, "page %d exists only on the second side", pb[j].ID)
			j++
		default:
			x, y := pa[i], pb[j]
			tot.pages++
			diff := false
			if x.Size != y.Size || x.Epoch != y.Epoch {
				diff = true
				r.addf(KindDivergence, 0, x.ID, where, "page %d: size %d vs %d, epoch %d vs %d", x.ID, x.Size, y.Size, x.Epoch, y.Epoch)
			}
			if x.Flags != y.Flags || !metaEqual(x.Meta, y.Meta) {
				diff = true
				r.addf(KindDivergence, 0, x.ID, where, "page %d: metadata or flags differ: flags %#x vs %#x, metadata %v vs %v", x.ID, x.Flags, y.Flags, x.Meta, y.Meta)
			}
			var errA, errB error
			bufA, _, errA = a.ReadPage(x.ID, bufA[:0])
			bufB, _, errB = b.ReadPage(y.ID, bufB[:0])
			if err := errors.Join(errA, errB); err != nil {
				// Two unreadable pages would compare equal as two empty ones.
				diff = true
				r.addf(KindFailed, 0, x.ID, where, "page %d cannot be read: %v", x.ID, err)
			} else if !bytes.Equal(bufA, bufB) {
				diff = true
				n, nb := min(len(bufA), len(bufB)), int64(0)
				first := -1
				for k := 0; k < n; k++ {
					if bufA[k] != bufB[k] {
						nb++
						if first < 0 {
							first = k
						}
					}
				}
				nb += int64(max(len(bufA), len(bufB)) - n)
				tot.bytesDiff += nb
				r.addf(KindDivergence, 0, x.ID, where, "page %d: %d byte(s) differ, first at offset %d", x.ID, nb, first)
				if isF64(x) {
					for k := 0; k+8 <= n; k += 8 {
						d := f64At(bufA, k) - f64At(bufB, k)
						if !math.IsNaN(d) {
							sumSq += float64(d * d) // never fused: the same figure on every platform
						}
					}
				}
			}
			if diff {
				tot.pagesDiff++
			}
			i++
			j++
		}
	}
	tot.l2 = math.Hypot(tot.l2, math.Sqrt(sumSq))
	ea, eb := a.Edges(), b.Edges()
	if len(ea) != len(eb) {
		r.addf(KindDivergence, 0, 0, where, "%d edges vs %d", len(ea), len(eb))
	} else {
		for k := range ea {
			if ea[k] != eb[k] {
				r.addf(KindDivergence, 0, ea[k].Child, where, "edge %d differs: %d->%d %v vs %d->%d %v", k, ea[k].Parent, ea[k].Child, ea[k].Type, eb[k].Parent, eb[k].Child, eb[k].Type)
				break
			}
		}
	}
	ba, bb := a.Bindings(), b.Bindings()
	if fmt.Sprint(ba) != fmt.Sprint(bb) {
		r.addf(KindDivergence, 0, 0, where, "bound pages differ: %v vs %v", ba, bb)
		return nil
	}
	for _, id := range ba {
		x, _ := a.Binding(id)
		y, _ := b.Binding(id)
		if x.Func != y.Func || !bytes.Equal(x.Params, y.Params) || fmt.Sprint(x.Parents) != fmt.Sprint(y.Parents) {
			r.addf(KindDivergence, 0, id, where, "binding of page %d differs: %s%v vs %s%v (params [%x] vs [%x])", id, x.Func, x.Parents, y.Func, y.Parents, x.Params, y.Params)
		}
	}
	return nil
}

// metaEqual reports whether two pages' metadata entries are the same, in
// the same order.
func metaEqual(a, b []mmsb.MetaEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func isF64(p mmsb.PageInfo) bool {
	typ, _ := declaredType(p)
	return typ == "f64"
}

func f64At(b []byte, off int) float64 {
	return math.Float64frombits(uint64(b[off]) | uint64(b[off+1])<<8 | uint64(b[off+2])<<16 | uint64(b[off+3])<<24 |
		uint64(b[off+4])<<32 | uint64(b[off+5])<<40 | uint64(b[off+6])<<48 | uint64(b[off+7])<<56)
}
