//go:build stress

package stress

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
)

// The throughput workload: the seed's benchmark 5 at full size.
const (
	tpPages    = 65_536
	tpPageSize = 1024
	tpRunLen   = 16
	tpBatch    = 4096 // deltas per Commit: large enough for the parallel path
)

// tpGen produces the seeded throughput deltas batch by batch. Every worker
// count and the reference model draw from the same sequence.
type tpGen struct {
	rng  *rand.Rand
	ds   []delta.Delta
	runs []delta.Run
	data []byte
}

func newTPGen(seed uint64) *tpGen {
	return &tpGen{
		rng:  rand.New(rand.NewPCG(seed, 0x7468726f75676870)),
		ds:   make([]delta.Delta, tpBatch),
		runs: make([]delta.Run, tpBatch),
		data: make([]byte, tpBatch*tpRunLen),
	}
}

// next fills and returns the next n deltas (n <= tpBatch). The slices are
// overwritten by the following call.
func (g *tpGen) next(n int) []delta.Delta {
	for i := 0; i < n; i++ {
		b := g.data[i*tpRunLen : (i+1)*tpRunLen]
		binary.LittleEndian.PutUint64(b[0:], g.rng.Uint64())
		binary.LittleEndian.PutUint64(b[8:], g.rng.Uint64())
		g.runs[i] = delta.Run{Offset: uint32(g.rng.IntN(tpPageSize - tpRunLen + 1)), Data: b}
		g.ds[i] = delta.Delta{Page: mmsb.PageID(1 + g.rng.IntN(tpPages)), Runs: g.runs[i : i+1]}
	}
	return g.ds[:n]
}

// tpModel is the reference: plain byte pages written serially with copy,
// sharing no code with the engine's apply path.
type tpModel struct {
	pages  []byte // page i (ID i+1) at [i*tpPageSize, (i+1)*tpPageSize)
	epochs []uint64
}

func buildModel(seed uint64, count int) *tpModel {
	m := &tpModel{pages: make([]byte, tpPages*tpPageSize), epochs: make([]uint64, tpPages)}
	g := newTPGen(seed)
	for done := 0; done < count; {
		n := min(tpBatch, count-done)
		for _, d := range g.next(n) {
			i := int(d.Page) - 1
			r := d.Runs[0]
			copy(m.pages[i*tpPageSize+int(r.Offset):], r.Data)
			m.epochs[i]++
		}
		done += n
	}
	return m
}

func (m *tpModel) page(id mmsb.PageID) []byte {
	i := int(id) - 1
	return m.pages[i*tpPageSize : (i+1)*tpPageSize]
}

// hash follows mmsb.StateHash's definition: xxhash64 over the pages in
// ascending ID order, each as ID, size and epoch (uint64 little-endian)
// followed by its bytes.
func (m *tpModel) hash() uint64 {
	h := xxhash.New()
	var hdr [24]byte
	for i := 0; i < tpPages; i++ {
		binary.LittleEndian.PutUint64(hdr[0:], uint64(i+1))
		binary.LittleEndian.PutUint64(hdr[8:], tpPageSize)
		binary.LittleEndian.PutUint64(hdr[16:], m.epochs[i])
		h.Write(hdr[:])
		h.Write(m.page(mmsb.PageID(i + 1)))
	}
	return h.Sum64()
}

// workerCounts returns 1, 2..8 and runtime.NumCPU(), ascending, without
// duplicates: the state must be identical for every one of them.
func workerCounts() []int {
	ws := []int{1, 2, 3, 4, 5, 6, 7, 8, runtime.NumCPU()}
	slices.Sort(ws)
	return slices.Compact(ws)
}

// TestThroughput commits the seeded workload through Engine.Commit (the
// real path: validate, encode, CRC, log append, apply) once per worker
// count and checks, for each, that the state equals the reference model
// (state hash and every page's bytes and epoch) and that a replay of the
// log reproduces it. It prints deltas/s per worker count; it asserts no
// speed.
func TestThroughput(t *testing.T) {
	ctx := context.Background()
	count := *flagDeltas
	requireWorkload(t, "stress.deltas", count, 1)
	seed := *flagSeed
	model := buildModel(seed, count)
	want := model.hash()
	figure(t, "throughput_workload", "deltas", count, "pages", tpPages, "page_size", tpPageSize,
		"run_bytes", tpRunLen, "batch", tpBatch, "cpus", runtime.NumCPU(), "gomaxprocs", runtime.GOMAXPROCS(0))
	for _, w := range workerCounts() {
		res := runThroughput(t, ctx, seed, w, count, model, want)
		figure(t, "throughput", "workers", w, "deltas_per_sec", int64(res.perSec),
			"commit_seconds", round3(res.seconds), "replay_seconds", round3(res.replaySec),
			"state_hash", fmt.Sprintf("%#016x", res.hash), "reference_hash", fmt.Sprintf("%#016x", want))
	}
}

type tpResult struct {
	perSec, seconds, replaySec float64
	hash                       uint64
}

func runThroughput(t *testing.T, ctx context.Context, seed uint64, workers, count int, model *tpModel, want uint64) tpResult {
	t.Helper()
	e, err := mmsb.Open("", &mmsb.Options{Sync: mmsb.SyncNone, Workers: workers, CheckpointBytes: -1})
	if err != nil {
		t.Fatalf("workers %d: open: %v", workers, err)
	}
	defer e.Close()
	specs := make([]mmsb.PageSpec, tpPages)
	for i := range specs {
		specs[i] = mmsb.PageSpec{Size: tpPageSize}
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatalf("workers %d: create pages: %v", workers, err)
	}
	if ids[0] != 1 || ids[len(ids)-1] != tpPages {
		t.Fatalf("workers %d: created IDs %d..%d, the model assumes 1..%d", workers, ids[0], ids[len(ids)-1], tpPages)
	}
	g := newTPGen(seed)
	var spent time.Duration
	for done := 0; done < count; {
		ds := g.next(min(tpBatch, count-done))
		t0 := time.Now()
		if _, err := e.Commit(ctx, ds); err != nil {
			t.Fatalf("workers %d: commit after %d deltas: %v", workers, done, err)
		}
		spent += time.Since(t0)
		done += len(ds)
	}
	hash, err := e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	res := tpResult{seconds: spent.Seconds(), perSec: float64(count) / spent.Seconds(), hash: hash}

	if res.hash != want {
		t.Errorf("workers %d: state hash %#x, serial reference %#x", workers, res.hash, want)
	}
	// Page by page too: the hash only says that something differs, this
	// says where (and does not rely on the hash definition).
	var buf []byte
	bad := 0
	for id := mmsb.PageID(1); id <= tpPages; id++ {
		var ep mmsb.Epoch
		buf, ep, err = e.ReadPage(id, buf[:0])
		if err != nil {
			t.Fatalf("workers %d: read page %d: %v", workers, id, err)
		}
		if uint64(ep) != model.epochs[id-1] || !bytes.Equal(buf, model.page(id)) {
			if bad < 5 {
				t.Errorf("workers %d: page %d: epoch %d (reference %d), bytes equal %v", workers, id, ep,
					model.epochs[id-1], bytes.Equal(buf, model.page(id)))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("workers %d: %d of %d pages differ from the serial reference", workers, bad, tpPages)
	}
	if got, want := e.LastLSN(), mmsb.LSN(tpPages+count); got != want {
		t.Errorf("workers %d: last LSN %d, want %d (one per create and per delta)", workers, got, want)
	}

	t0 := time.Now()
	rep, err := e.VerifyReplay(ctx, false)
	if err != nil {
		t.Fatalf("workers %d: verify replay: %v", workers, err)
	}
	res.replaySec = time.Since(t0).Seconds()
	if !rep.Equal() {
		t.Errorf("workers %d: replay differs from the live state: %d pages, %d bytes, graph equal %v: %v",
			workers, rep.PagesDiffering, rep.BytesDiffering, rep.GraphEqual, rep.Differences)
	}
	if rep.ReplayHash != want {
		t.Errorf("workers %d: replayed state hash %#x, serial reference %#x", workers, rep.ReplayHash, want)
	}
	return res
}
