package validate

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/delta"
	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplayOfflineUnloadableCheckpoint: the bus's only checkpoint is well
// framed (checkpoint.Verify passes) but does not load: a page image is
// left out, so its state record's counts disagree with the file.
// mmsb.Replay passes over such a checkpoint in silence, so the "replay from
// the newest checkpoint" replayed from LSN 1 and the validator compared a
// replay with itself: outcome pass, 1 comparison. It must say it could not
// compare (not-compared), naming the checkpoint in Notes. Before the damage
// the same directory passes.
func TestReplayOfflineUnloadableCheckpoint(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}, {Size: 16}, {Size: 16}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[0], Runs: []delta.Run{{Data: []byte("abc")}}}}); err != nil {
		t.Fatal(err)
	}
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Commit(ctx, []delta.Delta{{Page: ids[1], Runs: []delta.Run{{Data: []byte("xyz")}}}}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	rep, err := Replay(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)
	if n, _ := rep.Figure("comparisons"); n != 1 {
		t.Fatalf("clean directory: %v comparisons, want 1", n)
	}

	editCheckpoint(t, fs, func(img *record.PageImage) bool { return img.ID != ids[2] })
	rep, err = Replay(ctx, Offline(fs, busDir, nil), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome() != OutcomeNotCompared {
		t.Fatalf("outcome %s (comparisons %v), want %s: the only checkpoint does not load\nnotes %v", rep.Outcome(), figure(rep, "comparisons"), OutcomeNotCompared, rep.Notes)
	}
	if !strings.Contains(strings.Join(rep.Notes, "\n"), ck.Path+" (LSN") {
		t.Fatalf("notes do not name the checkpoint %s: %v", ck.Path, rep.Notes)
	}
}

func figure(rep Report, name string) float64 {
	v, _ := rep.Figure(name)
	return v
}
