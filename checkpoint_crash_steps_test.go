package mmsb

// Crash images at every step of a checkpoint: TestCheckpointCrashAtEveryStep
// opens a bus over errorfs over a MemFS, builds a state (pages of several
// sizes, metadata, a freed page, edges, a binding), and takes three
// checkpoints with commits between them: the second trims the log up to the
// first, the third also prunes the first checkpoint and trims the log up to
// the second. While each checkpoint runs, an injector takes power-failure
// images of the MemFS before every operation that changes what is on disk
// (create, write, sync, truncate, rename, remove, mkdir, directory sync),
// and one more after the checkpoint returns. Every image must reopen with
// exactly the state acknowledged before the checkpoint began (a checkpoint
// adds no operation): nothing acknowledged lost, no half-written checkpoint
// loaded or even present under a final name. The negative control runs the
// same harness over a filesystem that drops the checkpoint file's fsync
// while reporting success, and must see the harness fail.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// stepImageOptions are the power-failure models every step is imaged with:
// the strict one and seeded non-strict ones (torn tails, unsynced directory
// entries kept in part or in full).
var stepImageOptions = []vfs.CrashOptions{
	{},
	{Seed: 1, TornTail: true},
	{Seed: 2, TornTail: true, ZeroTornTail: true, Entries: vfs.RandomUnsyncedEntries},
	{Seed: 3, Entries: vfs.RandomUnsyncedEntries},
	{Seed: 4, TornTail: true, Entries: vfs.KeepUnsyncedEntries},
}

// crashStep is the filesystem as a power failure would leave it just before
// one operation (or after the last), under each of stepImageOptions.
type crashStep struct {
	what   string
	images []*vfs.MemFS
}

// stepRecorder is an injector that, while armed, images mem before every
// operation that can change what is on disk. It injects nothing.
type stepRecorder struct {
	mem   *vfs.MemFS
	armed atomic.Bool
	mu    sync.Mutex
	steps []crashStep
}

func (r *stepRecorder) MaybeError(op errorfs.Op) error {
	if !r.armed.Load() {
		return nil
	}
	switch op.Kind {
	case errorfs.OpCreate, errorfs.OpOpenAppend, errorfs.OpRemove, errorfs.OpRename, errorfs.OpMkdirAll,
		errorfs.OpSyncDir, errorfs.OpWrite, errorfs.OpSync, errorfs.OpTruncate:
		r.take("before " + op.String())
	}
	return nil
}

func (r *stepRecorder) take(what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := crashStep{what: what}
	for _, o := range stepImageOptions {
		s.images = append(s.images, r.mem.CrashCloneWith(o))
	}
	r.steps = append(r.steps, s)
}

// drain returns the steps taken so far and forgets them.
func (r *stepRecorder) drain() []crashStep {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.steps
	r.steps = nil
	return s
}

// dropCheckpointSyncFS is the negative control's filesystem: File.Sync of a
// temporary checkpoint file does nothing and reports success, so the
// checkpoint is renamed to its final name with its bytes not durable.
type dropCheckpointSyncFS struct{ vfs.FS }

type dropSyncFile struct{ vfs.File }

func (dropSyncFile) Sync() error { return nil }

func (d dropCheckpointSyncFS) Create(name string) (vfs.File, error) {
	f, err := d.FS.Create(name)
	if err != nil || !checkpoint.IsTempName(name[strings.LastIndex(name, "/")+1:]) {
		return f, err
	}
	return dropSyncFile{f}, nil
}

// ackedState is everything a recovered bus must show: the state as
// acknowledged before a checkpoint.
type ackedState struct {
	hash     uint64
	lastLSN  LSN
	pages    []PageInfo
	bytes    [][]byte
	edges    []Edge
	bindings map[PageID]Binding
}

func captureState(e *Bus) (ackedState, error) {
	var s ackedState
	var err error
	if s.hash, err = e.StateHash(); err != nil {
		return s, err
	}
	s.lastLSN = e.LastLSN()
	if s.pages, err = e.Pages(); err != nil {
		return s, err
	}
	for _, p := range s.pages {
		b, ep, err := e.ReadPage(p.ID, nil)
		if err != nil {
			return s, err
		}
		if ep != p.Epoch {
			return s, fmt.Errorf("page %d: ReadPage epoch %d, Pages epoch %d", p.ID, ep, p.Epoch)
		}
		s.bytes = append(s.bytes, b)
	}
	s.edges = e.Edges()
	s.bindings = map[PageID]Binding{}
	for _, id := range e.Bindings() {
		b, _ := e.Binding(id)
		s.bindings[id] = b
	}
	return s, nil
}

// diff names the first way got differs from want ("" if none).
func (want ackedState) diff(got ackedState) string {
	switch {
	case got.hash != want.hash:
		return fmt.Sprintf("state hash %#x, acknowledged %#x", got.hash, want.hash)
	case got.lastLSN != want.lastLSN:
		return fmt.Sprintf("last LSN %d, acknowledged %d", got.lastLSN, want.lastLSN)
	case len(got.pages) != len(want.pages):
		return fmt.Sprintf("%d pages, acknowledged %d", len(got.pages), len(want.pages))
	}
	for i := range want.pages {
		if !reflect.DeepEqual(got.pages[i], want.pages[i]) {
			return fmt.Sprintf("page %+v, acknowledged %+v", got.pages[i], want.pages[i])
		}
		if !bytes.Equal(got.bytes[i], want.bytes[i]) {
			return fmt.Sprintf("page %d bytes differ from the acknowledged ones", want.pages[i].ID)
		}
	}
	if !reflect.DeepEqual(got.edges, want.edges) {
		return fmt.Sprintf("edges %v, acknowledged %v", got.edges, want.edges)
	}
	if !reflect.DeepEqual(got.bindings, want.bindings) {
		return fmt.Sprintf("bindings %v, acknowledged %v", got.bindings, want.bindings)
	}
	return ""
}

// crashStepsResult is what one run of the harness saw.
type crashStepsResult struct {
	steps    int            // crash points: operations imaged, plus one after each checkpoint
	kinds    map[string]int // crash points by operation kind ("after" for the last)
	images   int            // images reopened and checked
	problems []string       // every image that failed a check, with why
	trimmed  int            // log segments the checkpoints removed
	pruned   bool           // the first checkpoint was removed by the third
}

// runCheckpointCrashSteps runs the workload on errorfs over wrap(MemFS)
// and checks every image of every checkpoint step. Harness errors (the
// workload itself failing) fail t; what the images show is returned.
func runCheckpointCrashSteps(t *testing.T, wrap func(vfs.FS) vfs.FS) crashStepsResult {
	t.Helper()
	mem := vfs.NewMem()
	rec := &stepRecorder{mem: mem}
	fs := errorfs.Wrap(wrap(mem), rec)
	const dir = "/db"
	opts := func(fs vfs.FS) *Options {
		return &Options{FS: fs, Sync: SyncGroup, SegmentBytes: 4096, CheckpointBytes: -1, CheckpointWriteRate: -1, LazyPageMemory: true, Clock: testClock()}
	}
	e, err := Open(dir, opts(fs))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer e.Close()

	specs := []PageSpec{
		{Size: 8, Meta: []MetaEntry{{Key: TypeMetaKey, Value: []byte("f64")}}},
		{Size: 8, Meta: []MetaEntry{{Key: TypeMetaKey, Value: []byte("f64")}}},
		{Size: 1},
		{Size: 100},
		{Size: 1000, Meta: []MetaEntry{{Key: "name", Value: []byte("big")}}},
		{Size: 5000},
		{Size: 300 << 10}, // the checkpoint outgrows its 256 KiB write buffer: several writes
		{Size: 300},
	}
	ids, err := e.CreatePages(ctx, specs)
	if err != nil {
		t.Fatalf("create pages: %v", err)
	}
	if err := e.AddEdge(ctx, ids[3], ids[4], EdgeData); err != nil {
		t.Fatal(err)
	}
	if err := e.AddEdge(ctx, ids[4], ids[5], EdgeControl); err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[1], "f64.sum", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.FreePage(ctx, ids[7]); err != nil {
		t.Fatal(err)
	}
	// The big page's bytes do not compress: its checkpoint record needs
	// more than one buffer's write.
	big := make([]byte, specs[6].Size)
	x := uint64(0x9e3779b97f4a7c15)
	for j := range big {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		big[j] = byte(x)
	}
	if _, err := e.Commit(ctx, []Delta{{Page: ids[6], Runs: []Run{{Data: big}}}}); err != nil {
		t.Fatalf("commit of the big page: %v", err)
	}
	live := ids[:7]
	batch := 0
	commit := func(n int) {
		t.Helper()
		for ; n > 0; n-- {
			batch++
			var ds []Delta
			for k, id := range live {
				size := specs[k].Size
				data := make([]byte, 1+(batch*7+k*13)%min(size, 2000))
				for j := range data {
					data[j] = byte(batch*31 + k*5 + j)
				}
				if k == 0 {
					data = binary.LittleEndian.AppendUint64(nil, uint64(batch)) // an f64 page, whole
				}
				ds = append(ds, Delta{Page: id, Runs: []Run{{Offset: uint32((batch * 3) % (size - len(data) + 1)), Data: data}}})
			}
			if _, err := e.Commit(ctx, ds); err != nil {
				t.Fatalf("commit of batch %d: %v", batch, err)
			}
		}
	}

	res := crashStepsResult{kinds: map[string]int{}}
	var ckpts []CheckpointInfo
	for round := 0; round < 3; round++ {
		commit(8)
		if round == 1 {
			if _, err := e.Propagate(ctx); err != nil {
				t.Fatalf("propagate: %v", err)
			}
		}
		want, err := captureState(e)
		if err != nil {
			t.Fatal(err)
		}
		rec.armed.Store(true)
		info, err := e.Checkpoint(ctx)
		rec.armed.Store(false)
		if err != nil {
			t.Fatalf("checkpoint %d: %v", round+1, err)
		}
		rec.take("after checkpoint " + info.Path)
		ckpts = append(ckpts, info)
		res.trimmed += info.SegmentsRemoved
		if got, err := captureState(e); err != nil || want.diff(got) != "" {
			t.Fatalf("checkpoint %d changed the live state: %v %s", round+1, err, want.diff(got))
		}
		steps := rec.drain()
		res.steps += len(steps)
		for _, st := range steps {
			kind, _, _ := strings.Cut(strings.TrimPrefix(st.what, "before "), " ")
			res.kinds[kind]++
		}
		if testing.Verbose() {
			for k, st := range steps {
				t.Logf("checkpoint %d, step %d: %s", round+1, k, st.what)
			}
		}
		for k, st := range steps {
			for i, img := range st.images {
				res.images++
				what := fmt.Sprintf("checkpoint %d, step %d (%s), image %+v", round+1, k, st.what, stepImageOptions[i])
				for _, p := range checkCrashImage(img, dir, opts(img), want, i == 0) {
					res.problems = append(res.problems, what+": "+p)
				}
			}
		}
	}
	res.pruned = !mem.Exists(ckpts[0].Path)
	return res
}

// checkCrashImage checks one image and returns what is wrong with it (nil
// if nothing): a checkpoint under its final name that does not verify, and
// (checked whatever that found) what reopening the image shows. With replay
// it also checks VerifyReplay from the oldest and the newest checkpoint (on
// the strict image only: each replay builds detached buses whose page
// memory is pre-faulted, the bulk of the test's time).
func checkCrashImage(img *vfs.MemFS, dir string, o *Options, want ackedState, replay bool) []string {
	var problems []string
	// No checkpoint under a final name may be half written, whether or
	// not recovery would reach it.
	ckDir := img.Join(dir, "checkpoints")
	list, err := checkpoint.List(img, ckDir)
	if err != nil {
		problems = append(problems, fmt.Sprintf("list checkpoints: %v", err))
	}
	for _, c := range list {
		if err := checkpoint.Verify(img, c.Path); err != nil {
			problems = append(problems, fmt.Sprintf("file check: checkpoint %s under its final name does not verify: %v", c.Path, err))
		}
	}
	if p := reopenCrashImage(dir, o, want, replay); p != "" {
		problems = append(problems, "reopen: "+p)
	}
	return problems
}

// reopenCrashImage opens an image and returns the first way its recovered
// state or its recovery differs from what was acknowledged ("" if none).
func reopenCrashImage(dir string, o *Options, want ackedState, replay bool) string {
	e, err := Open(dir, o)
	if err != nil {
		return fmt.Sprintf("open: %v", err)
	}
	defer e.Close()
	rc := e.Recovery()
	if len(rc.SkippedCheckpoint) > 0 {
		return fmt.Sprintf("recovery skipped checkpoints: %q", rc.SkippedCheckpoint)
	}
	if rc.Log.RepairedFile != "" || rc.Log.DroppedRecords > 0 || rc.Log.CoveredDamage > 0 {
		return fmt.Sprintf("recovery met log damage: %+v", rc.Log)
	}
	got, err := captureState(e)
	if err != nil {
		return fmt.Sprintf("read recovered state: %v", err)
	}
	if d := want.diff(got); d != "" {
		return fmt.Sprintf("recovered from %q: %s", rc.Checkpoint, d)
	}
	if replay {
		for _, newest := range []bool{false, true} {
			rep, err := e.VerifyReplay(ctx, newest)
			if err != nil {
				return fmt.Sprintf("VerifyReplay(newest=%v): %v", newest, err)
			}
			if !rep.Equal() {
				return fmt.Sprintf("VerifyReplay(newest=%v) differs: %v", newest, rep.Differences)
			}
		}
	}
	// What the crash left (a temporary file, a checkpoint being removed,
	// three checkpoints) must not stop the next checkpoint.
	if _, err := e.Checkpoint(ctx); err != nil {
		return fmt.Sprintf("checkpoint after recovery: %v", err)
	}
	if got, err := captureState(e); err != nil || want.diff(got) != "" {
		return fmt.Sprintf("checkpoint after recovery changed the state: %v %s", err, want.diff(got))
	}
	return ""
}

// minCheckpointCrashSteps is a floor under the crash points the three
// checkpoints give (observed: see docs/crash.md), so that a harness that
// images nothing, or images only a few steps, fails.
const minCheckpointCrashSteps = 30

func TestCheckpointCrashAtEveryStep(t *testing.T) {
	res := runCheckpointCrashSteps(t, func(fs vfs.FS) vfs.FS { return fs })
	t.Logf("%d crash points %v, %d images, %d log segments trimmed, first checkpoint pruned: %v", res.steps, res.kinds, res.images, res.trimmed, res.pruned)
	if res.steps < minCheckpointCrashSteps || res.images != res.steps*len(stepImageOptions) {
		t.Fatalf("%d crash points (%d images): want at least %d, each imaged %d ways", res.steps, res.images, minCheckpointCrashSteps, len(stepImageOptions))
	}
	// Every kind of step a checkpoint, its pruning and the log trim take.
	for _, k := range []string{"create", "write", "sync", "rename", "sync-dir", "open-append", "remove", "after"} {
		if res.kinds[k] == 0 {
			t.Errorf("no crash point before a %s: %v", k, res.kinds)
		}
	}
	if res.kinds["write"] < 6 {
		t.Errorf("%d crash points before writes, want 2 or more per checkpoint: %v", res.kinds["write"], res.kinds)
	}
	if res.trimmed == 0 || !res.pruned {
		t.Fatalf("the checkpoints must trim the log and prune the oldest checkpoint: %d segments trimmed, pruned %v", res.trimmed, res.pruned)
	}
	for i, p := range res.problems {
		if i == 10 {
			t.Errorf("... and %d more", len(res.problems)-i)
			break
		}
		t.Error(p)
	}
}

// The negative control: a checkpoint whose fsync before the rename is
// dropped (reported as done) must make the harness fail.
func TestCheckpointCrashAtEveryStepCatchesUnsyncedCheckpoint(t *testing.T) {
	res := runCheckpointCrashSteps(t, func(fs vfs.FS) vfs.FS { return dropCheckpointSyncFS{fs} })
	// Both layers must see it: the files (a checkpoint under its final
	// name that does not verify) and recovery (which skips it).
	var files, reopen []string
	for _, p := range res.problems {
		if strings.Contains(p, ": file check: ") {
			files = append(files, p)
		} else if strings.Contains(p, ": reopen: ") {
			reopen = append(reopen, p)
		}
	}
	if len(files) == 0 || len(reopen) == 0 {
		t.Fatalf("%d crash points, %d images: %d file checks and %d reopens failed; both must catch the checkpoint renamed before its bytes were durable", res.steps, res.images, len(files), len(reopen))
	}
	t.Logf("%d problems over %d images; first file check: %s; first reopen: %s", len(res.problems), res.images, files[0], reopen[0])
}
