package validate

import (
	"bytes"
	"testing"

	"github.com/mmsb-go/mmsb/internal/record"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplayOfflineCatchesMetadataDivergence: a checkpoint whose page
// bytes, size and epoch agree with the log but whose metadata does not (the
// page's declared type changed from f64 to i64) must make the offline
// replay comparison fail: the two replays do not reach the same state.
func TestReplayOfflineCatchesMetadataDivergence(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	src, _ := populate(t, e, 10, 4)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e.Close()
	rewriteCheckpointWith(t, fs, src[3], func(img *record.PageImage) {
		i := bytes.Index(img.Meta, []byte("f64"))
		if i < 0 {
			t.Fatalf("page %d: no f64 type in its metadata %q", img.ID, img.Meta)
		}
		img.Meta = append([]byte(nil), img.Meta...)
		copy(img.Meta[i:], "i64")
	})
	rep, err := Replay(ctx, Offline(fs, busDir, nil), Options{})
	requireProblem(t, rep, err, "metadata")
}
