package validate

import (
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityPassesOverNonFileCheckpointName: a directory under a
// checkpoint's name past the log's end is no checkpoint (Open passes over
// it): the integrity validator lists checkpoints as recovery does
// (checkpoint.ListFiles), passes over it with a note naming it, and finds
// nothing; the replay validator, live and offline, agrees. Before,
// integrity reported "the log ends at LSN N, before checkpoint ... :
// committed operations ... are missing" for it. A damaged checkpoint FILE
// under the same name is still reported (the negative control).
func TestIntegrityPassesOverNonFileCheckpointName(t *testing.T) {
	fs := vfs.NewMem()
	e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	populate(t, e, 6, 3)
	ck, err := e.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	populate(t, e, 2, 1)
	last := e.LastLSN()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	bad := fs.Join(busDir, "checkpoints", checkpoint.FileName(last+100))
	if err := fs.MkdirAll(fs.Join(bad, "inside")); err != nil {
		t.Fatal(err)
	}
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)
	if notes := strings.Join(rep.Notes, "\n"); !strings.Contains(notes, bad) || !strings.Contains(notes, "passed over") {
		t.Errorf("integrity's notes do not say %s was passed over:\n%s", bad, notes)
	}
	rep, err = Replay(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)
	live, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), CheckpointBytes: -1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = Replay(ctx, Live(live), Options{})
	if cerr := live.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	requireOK(t, rep, err)

	// The control: a damaged checkpoint file under that name is evidence
	// of commits the log does not hold.
	for _, p := range []string{fs.Join(bad, "inside"), bad} {
		if err := fs.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	b := testutil.ReadFile(t, fs, ck.Path)
	b[len(b)/2] ^= 0xFF
	writeFile(t, fs, bad, b)
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireKind(t, rep, err, "before checkpoint", KindLSN, 0)
}
