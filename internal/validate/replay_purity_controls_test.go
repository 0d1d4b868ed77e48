package validate

import (
	"fmt"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReplayOfflineCatchesUnreplayableLog: a log with a flipped byte
// before its tail no longer replays from LSN 1; offline, that is a
// "failed" problem naming the starting point, not a pass or an error.
func TestReplayOfflineCatchesUnreplayableLog(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	populate(t, e, 10, 6)
	if _, err := e.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	e.Close()
	rep, err := Replay(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)
	seg := segmentPath(t, fs)
	b := testutil.ReadFile(t, fs, seg)
	b[len(b)/3] ^= 0x01
	writeFile(t, fs, seg, b)
	rep, err = Replay(ctx, Offline(fs, busDir, nil), Options{})
	requireKind(t, rep, err, "replay from LSN 1 failed", KindFailed, 0)
}

// TestPurityOfflineUnknownFunction: offline, a binding to a function the
// checking program did not register (Target.Funcs) cannot be run: an
// unknown-function problem, and the binding is counted as skipped, not as
// checked and pure.
func TestPurityOfflineUnknownFunction(t *testing.T) {
	fs := vfs.NewMem()
	double := func(in [][]byte, _ []byte, out []byte) error {
		for i := range out {
			out[i] = in[0][i] * 2
		}
		return nil
	}
	funcs := map[string]mmsb.RecomputeFunc{"double": double}
	e := openBus(t, fs, funcs)
	ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 4}, {Size: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Bind(ctx, ids[1], "double", nil, ids[:1]); err != nil {
		t.Fatal(err)
	}
	e.Close()
	rep, err := Purity(ctx, Offline(fs, busDir, funcs), Options{})
	requireOK(t, rep, err)
	rep, err = Purity(ctx, Offline(fs, busDir, nil), Options{})
	requireKind(t, rep, err, fmt.Sprintf("function %q is not registered", "double"), KindUnknownFunc, ids[1])
	if rep.Checked != 0 || rep.Skipped != 1 {
		t.Fatalf("checked %d, skipped %d: want the binding skipped", rep.Checked, rep.Skipped)
	}
}
