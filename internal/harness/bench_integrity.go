package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/internal/semiring"
	"github.com/mmsb-go/mmsb/internal/validate"
	"github.com/mmsb-go/mmsb/vfs"
)

func init() {
	register(Benchmark{ID: 2, Key: "integrity", Name: "Integrity", Run: runIntegrity, Sizes: []Size{{"deltas", 2_000_000, true}},
		Gates: []string{"max_problems", "max_orphans"}})
}

// integrityConfig sizes benchmark #2. Negative controls: tamper damages
// the log after the workload; skip names a kind of structural operation
// ("edge", "unedge", "free", "meta", "unbind", "flags") the workload leaves
// out; segmentBytes (> 0) opens the bus with log segments that small, so
// the midway checkpoint removes the segments it covers and the scan sees
// only part of the workload's log; claimSkipped makes the workload count
// the kind it skips as done anyway (a harness whose own tally is wrong).
type integrityConfig struct {
	deltas       int
	seed         uint64
	tamper       func(fs vfs.FS, walDir string) error
	skip         string
	claimSkipped bool
	segmentBytes int64
}

// integrityOutcome is what #2 measured.
type integrityOutcome struct {
	rep                          validate.Report
	lastLSN                      mmsb.LSN
	kinds                        map[string]int // the workload's own tally
	logged                       map[string]int // what the log and checkpoint directory hold
	loggedErr                    error
	orphans, epochProbs, lsnGaps int64
	workSec                      float64
}

// mixedWorkload drives every kind of logged operation: page creation,
// client deltas (sparse runs and masked), frees, metadata, Control and
// Data edges, bindings and unbindings, flag clears, propagation (derived
// deltas) and a checkpoint midway, except the structural kind skip (""
// for none: negative controls). It returns how many of each it did, by its
// own tally (with claimSkipped, the skipped kind is tallied as if done).
func mixedWorkload(ctx context.Context, e *mmsb.Bus, deltas int, seed uint64, skip string, claimSkipped bool) (map[string]int, error) {
	kinds := map[string]int{}
	const plain, floats, elems = 512, 64, 8
	specs := make([]mmsb.PageSpec, plain)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: 256}
	}
	plainIDs, err := e.CreatePages(ctx, specs)
	if err != nil {
		return nil, err
	}
	kinds["create"] += plain
	fl, err := createF64Pages(ctx, e, floats, elems)
	if err != nil {
		return nil, err
	}
	der, err := createF64Pages(ctx, e, floats/2, elems)
	if err != nil {
		return nil, err
	}
	kinds["create"] += floats + floats/2
	for i, id := range der {
		if err := e.Bind(ctx, id, "f64.sum", nil, []mmsb.PageID{fl[2*i], fl[2*i+1]}); err != nil {
			return nil, err
		}
		kinds["bind"]++
	}
	rng := rand.New(rand.NewPCG(seed, 0x1e9))
	const batch = 100
	ds := make([]delta.Delta, batch)
	runs := make([]delta.Run, batch)
	buf := make([]byte, batch*16)
	done := 0
	for round := 0; done < deltas; round++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(batch, deltas-done)
		for i := 0; i < n; i++ {
			b := buf[i*16 : (i+1)*16]
			switch i % 10 {
			case 9:
				// A float write, so that propagation has work.
				semiring.PutF64(b, 0, rng.Float64())
				runs[i] = delta.Run{Offset: uint32(8 * rng.IntN(elems)), Data: b[:8]}
				ds[i] = delta.Delta{Page: fl[rng.IntN(len(fl))], Runs: runs[i : i+1], Source: "bench"}
			case 5:
				// A masked delta: every other byte of the first 16.
				for k := range b {
					b[k] = byte(rng.Uint32())
				}
				ds[i] = delta.Delta{Page: plainIDs[rng.IntN(plain)], Form: delta.FormMaskedSparse,
					Mask: []byte{0x55, 0x55}, MaskLen: 16, Payload: b[:8]}
			default:
				for k := range b {
					b[k] = byte(rng.Uint32())
				}
				runs[i] = delta.Run{Offset: uint32(rng.IntN(256 - 16 + 1)), Data: b}
				ds[i] = delta.Delta{Page: plainIDs[rng.IntN(plain)], Runs: runs[i : i+1]}
			}
		}
		if _, err := e.Commit(ctx, ds[:n]); err != nil {
			return nil, err
		}
		done += n
		kinds["delta"] += n
		if _, err := e.Propagate(ctx); err != nil {
			return nil, err
		}
		// Structural operations, a few per round.
		op := round % 8
		if names := [...]string{"edge", "unedge", "free", "meta", "unbind", "flags"}; op < len(names) && names[op] == skip {
			if claimSkipped {
				kinds[skip]++
			}
			op = -1
		}
		switch op {
		case 0:
			a, b := plainIDs[rng.IntN(plain/2)], plainIDs[plain/2+rng.IntN(plain/2)]
			if err := e.AddEdge(ctx, a, b, mmsb.EdgeControl); err != nil {
				return nil, err
			}
			kinds["edge"]++
		case 1:
			edges := e.Edges()
			for _, ed := range edges {
				if ed.Type == mmsb.EdgeControl {
					if err := e.RemoveEdge(ctx, ed.Parent, ed.Child, ed.Type); err != nil {
						return nil, err
					}
					kinds["unedge"]++
					break
				}
			}
		case 2:
			id, err := e.CreatePage(ctx, mmsb.PageSpec{Size: 64})
			if err != nil {
				return nil, err
			}
			if err := e.FreePage(ctx, id); err != nil {
				return nil, err
			}
			kinds["create"]++
			kinds["free"]++
		case 3:
			id := plainIDs[rng.IntN(plain)]
			if err := e.SetMetadata(ctx, id, []mmsb.MetaEntry{{Key: "owner", Value: []byte(fmt.Sprintf("r%d", round))}}); err != nil {
				return nil, err
			}
			kinds["meta"]++
		case 4:
			k := rng.IntN(len(der))
			if err := e.Unbind(ctx, der[k]); err != nil {
				return nil, err
			}
			if err := e.Bind(ctx, der[k], "f64.sum", nil, []mmsb.PageID{fl[2*k], fl[2*k+1]}); err != nil {
				return nil, err
			}
			kinds["unbind"]++
			kinds["bind"]++
		case 5:
			id := plainIDs[rng.IntN(plain)]
			if err := e.ClearFlags(ctx, id, mmsb.FlagStale); err != nil {
				return nil, err
			}
			kinds["flags"]++
		}
		if done >= deltas/2 && kinds["checkpoint"] == 0 {
			if _, err := e.Checkpoint(ctx); err != nil {
				return nil, err
			}
			kinds["checkpoint"]++
		}
	}
	return kinds, nil
}

// measureIntegrity runs the mixed workload and scans the whole log with
// the integrity validator.
func measureIntegrity(ctx context.Context, cfg integrityConfig) (integrityOutcome, error) {
	var out integrityOutcome
	open := func() (*mmsb.Bus, error) { return openMem(nil) }
	if cfg.segmentBytes > 0 {
		open = func() (*mmsb.Bus, error) {
			return mmsb.Open("", &mmsb.Options{Sync: mmsb.SyncNone, CheckpointBytes: -1, SegmentBytes: cfg.segmentBytes,
				Clock: deterministicClock()})
		}
	}
	e, err := open()
	if err != nil {
		return out, err
	}
	defer e.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	t0 := time.Now()
	out.kinds, err = mixedWorkload(ctx, e, cfg.deltas, cfg.seed, cfg.skip, cfg.claimSkipped)
	if err != nil {
		return out, err
	}
	out.workSec = time.Since(t0).Seconds()
	out.lastLSN = e.LastLSN()
	if err := e.Flush(ctx); err != nil {
		return out, err
	}
	// Before any tamper: what the workload left in the log.
	out.logged, out.loggedErr = loggedKinds(ctx, e)
	if cfg.tamper != nil {
		if err := cfg.tamper(e.FS(), e.WALDir()); err != nil {
			return out, err
		}
	}
	out.rep, err = validate.Integrity(ctx, validate.Live(e), validate.Options{OnProblem: func(p validate.Problem) {
		switch p.Kind {
		case validate.KindOrphan:
			out.orphans++
		case validate.KindEpoch:
			out.epochProbs++
		case validate.KindLSN, validate.KindFraming:
			out.lsnGaps++
		}
	}})
	return out, err
}

func runIntegrity(ctx context.Context, env *Env, r *Result) error {
	return integrityBench(ctx, env, r, integrityConfig{deltas: env.Int("deltas"), seed: env.Seed})
}

// integrityBench runs #2 with cfg and records its checks.
func integrityBench(ctx context.Context, env *Env, r *Result, cfg integrityConfig) error {
	out, err := measureIntegrity(ctx, cfg)
	if err != nil {
		return err
	}
	rep := &out.rep
	records, _ := rep.Figure("records")
	ops, _ := rep.Figure("ops")
	coverage := 0.0
	if out.lastLSN > 0 {
		coverage = float64(rep.Checked) / float64(out.lastLSN)
	}
	r.Metric("ops", ops)
	r.Metric("records", records)
	r.Metric("log_lsn", float64(out.lastLSN))
	r.Metric("problems", float64(rep.Total))
	r.Metric("orphans", float64(out.orphans))
	r.Metric("scan_seconds", rep.Duration.Seconds())
	r.Metric("workload_seconds", out.workSec)
	if rep.Duration > 0 {
		r.Metric("ops_per_sec", ops/rep.Duration.Seconds())
	}
	for k, v := range out.kinds {
		r.Metric("workload_"+k, float64(v))
	}
	for k, v := range out.logged {
		r.Metric("logged_"+k, float64(v))
	}
	var missing []string
	for _, k := range mixedKinds {
		if out.logged[k] == 0 {
			missing = append(missing, k)
		}
	}
	mixedTarget := fmt.Sprintf("every kind of operation in the bus's log (%s) and a checkpoint", strings.Join(mixedKinds[:len(mixedKinds)-1], ", "))
	if out.loggedErr != nil {
		mixedTarget += "; log unreadable: " + out.loggedErr.Error()
	} else if len(missing) > 0 {
		mixedTarget += "; missing: " + strings.Join(missing, ", ")
	}
	maxProblems, maxOrphans := env.Threshold("max_problems"), env.Threshold("max_orphans")
	r.Semantic("mixed_workload", out.loggedErr == nil && len(missing) == 0, float64(len(mixedKinds)-len(missing)), mixedTarget)
	r.Semantic("schema_coverage", coverage >= 1 && ops >= float64(out.lastLSN), coverage*100, "100% of logged operations decoded and checked")
	r.Semantic("orphans", float64(out.orphans) <= maxOrphans, float64(out.orphans), fmt.Sprintf("<= %g", maxOrphans))
	r.Semantic("problems", float64(rep.Total) <= maxProblems, float64(rep.Total), fmt.Sprintf("<= %g (CRC, schema, epochs +1, LSNs contiguous)", maxProblems))
	r.Summary = fmt.Sprintf("%d ops in %d records scanned in %.0f ms (%.0f%% schema-validated): %d problems, %d orphans",
		int64(ops), int64(records), float64(rep.Duration)/1e6, coverage*100, rep.Total, out.orphans)
	if len(rep.Problems) > 0 {
		r.Summary += "; first: " + rep.Problems[0].String()
	}
	return nil
}

// mixedKinds are the kinds #2's log must hold (names of loggedKinds): every
// logged operation kind (the wave op ending each propagation wave's record
// included), both delta forms the workload writes, and a checkpoint (last).
var mixedKinds = []string{"create", "delta", "masked", "derived", "free", "meta", "flags", "edge", "unedge", "bind", "unbind", "wave", "checkpoint"}

// loggedKinds reads e's log back (Bus.QueryLog) and counts its operations
// by kind (record.OpKind's names, add-edge and remove-edge as "edge" and
// "unedge"), client deltas of FormMaskedSparse also as "masked", and the
// checkpoints in e's checkpoint directory as "checkpoint": what the bus
// holds, not what the workload believes it did.
func loggedKinds(ctx context.Context, e *mmsb.Bus) (map[string]int, error) {
	kinds := map[string]int{}
	err := e.QueryLog(ctx, mmsb.LogQuery{}, func(lo *mmsb.LoggedOp) bool {
		switch op := lo.Op; op.Kind {
		case mmsb.OpAddEdge:
			kinds["edge"]++
		case mmsb.OpRemoveEdge:
			kinds["unedge"]++
		case mmsb.OpDelta:
			kinds["delta"]++
			if op.Delta.Form == delta.FormMaskedSparse {
				kinds["masked"]++
			}
		default:
			kinds[op.Kind.String()]++
		}
		return true
	})
	if err != nil {
		return kinds, err
	}
	ckpts, err := checkpoint.List(e.FS(), e.CheckpointDir())
	if err != nil && !vfs.IsNotExist(err) {
		return kinds, err
	}
	kinds["checkpoint"] = len(ckpts)
	return kinds, nil
}

// OrphanDeltaPayload is a one-operation log payload holding a client delta
// to page id: appended to a log in which id never existed, it is an orphan.
func OrphanDeltaPayload(id mmsb.PageID, t int64) []byte {
	b := record.AppendHeader(nil, t)
	return record.AppendDelta(b, &delta.Delta{Page: id, Runs: []delta.Run{{Offset: 0, Data: []byte("orphan")}}})
}
