package mmsb

import (
	"testing"

	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// pruneBus is a bus with small log segments whose rounds of commits each
// span at least one segment, so that pruning trims the log.
type pruneBus struct {
	t   *testing.T
	e   *Bus
	ids []PageID
	seq byte
}

func newPruneBus(t *testing.T, opts *Options) *pruneBus {
	e := openT(t, "/db", opts)
	return &pruneBus{t: t, e: e, ids: mustCreate(t, e, 2, 1024)}
}

// round commits about 6 KiB of log: at least one rotation.
func (p *pruneBus) round() {
	p.t.Helper()
	for range 12 {
		p.seq++
		var ds []delta.Delta
		for _, id := range p.ids {
			ds = append(ds, delta.Delta{Page: id, Runs: []delta.Run{{Offset: 0, Data: bytesOf(p.seq, 256)}}})
		}
		if _, err := p.e.Commit(ctx, ds); err != nil {
			p.t.Fatal(err)
		}
	}
}

func (p *pruneBus) ckpt() CheckpointInfo {
	p.t.Helper()
	ck, err := p.e.Checkpoint(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	return ck
}

// TestPruneSkipsUnreadableCheckpoint: a checkpoint name that holds no file
// (here a directory, as a dangling link or a named pipe would be), put
// there after Open, is not counted among the two retained checkpoints:
// the next checkpoint's pruning removes the name and keeps the older,
// whole checkpoint and the log since it, so a damaged newest checkpoint
// still recovers everything. Before, the name was kept as the second
// checkpoint, the good older one was removed and the log was trimmed up
// to the name's LSN: with the newest damaged, Open failed with history
// missing.
func TestPruneSkipsUnreadableCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	opts := &Options{FS: fs, SegmentBytes: 4 << 10, CheckpointBytes: -1}
	p := newPruneBus(t, opts)
	p.round()
	p.ckpt()
	p.round()
	c2 := p.ckpt()
	p.round()
	// A name between c2 and the next checkpoint that no one can read.
	bad := fs.Join("/db", "checkpoints", checkpoint.FileName(p.e.LastLSN()))
	if err := fs.MkdirAll(bad); err != nil {
		t.Fatal(err)
	}
	p.round()
	c3 := p.ckpt()
	if fs.Exists(bad) {
		t.Errorf("pruning kept the unreadable %s", bad)
	}
	if !fs.Exists(c2.Path) {
		t.Errorf("pruning removed %s, the older readable checkpoint", c2.Path)
	}
	p.round()
	want, err := p.e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.e.Close(); err != nil {
		t.Fatal(err)
	}
	// The newest checkpoint damaged: the older retained one and the log
	// must still recover everything.
	flipByte(t, fs, c3.Path, -30)
	r, err := Open("/db", opts)
	if err != nil {
		t.Fatalf("open with the newest checkpoint damaged: %v", err)
	}
	defer r.Close()
	if got, err := r.StateHash(); err != nil || got != want {
		t.Fatalf("recovered state hash %x (%v), want %x", got, err, want)
	}
}

// TestPruneKeepsPassingUnreadableCheckpoint: a checkpoint file that fails
// to open when the next checkpoint prunes, for a reason that may pass (no
// permission, too many open files), is neither counted among the retained
// ones nor removed: the older readable checkpoint stays as the second one,
// and the file, readable again, is still there to fall back on.
func TestPruneKeepsPassingUnreadableCheckpoint(t *testing.T) {
	mem := vfs.NewMem()
	var c2 CheckpointInfo
	tog := errorfs.NewToggle(errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpOpen && op.Path == c2.Path {
			return errorfs.ErrInjected
		}
		return nil
	}))
	p := newPruneBus(t, &Options{FS: errorfs.Wrap(mem, tog), SegmentBytes: 4 << 10, CheckpointBytes: -1})
	p.round()
	c1 := p.ckpt()
	p.round()
	c2 = p.ckpt()
	p.round()
	tog.On()
	c3 := p.ckpt()
	tog.Off()
	for _, c := range []CheckpointInfo{c1, c2, c3} {
		if !mem.Exists(c.Path) {
			t.Errorf("pruning removed %s (want %s, %s and %s kept)", c.Path, c3.Path, c2.Path, c1.Path)
		}
	}
	want, err := p.e.StateHash()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.e.Close(); err != nil {
		t.Fatal(err)
	}
	// Readable again, it is a fallback: with the newest damaged, recovery
	// loads it.
	flipByte(t, mem, c3.Path, -30)
	r := openT(t, "/db", &Options{FS: mem})
	if got := r.Recovery().Checkpoint; got != c2.Path {
		t.Errorf("recovered from %q, want %s", got, c2.Path)
	}
	if got, err := r.StateHash(); err != nil || got != want {
		t.Fatalf("recovered state hash %x (%v), want %x", got, err, want)
	}
}
