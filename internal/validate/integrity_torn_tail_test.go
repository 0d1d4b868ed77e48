package validate

import (
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestIntegrityCatchesTornTail: the log's last record cut short (a crash
// mid-write) is reported as a torn tail, as recovery would truncate it;
// the same log before the cut passes.
func TestIntegrityCatchesTornTail(t *testing.T) {
	fs := vfs.NewMem()
	e := openBus(t, fs, nil)
	populate(t, e, 10, 4)
	e.Close()
	rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireOK(t, rep, err)

	seg := segmentPath(t, fs)
	b := testutil.ReadFile(t, fs, seg)
	writeFile(t, fs, seg, b[:len(b)-5])
	rep, err = Integrity(ctx, Offline(fs, busDir, nil), Options{})
	requireProblem(t, rep, err, "torn tail")
	for _, p := range rep.Problems {
		if p.Kind != KindFraming {
			t.Fatalf("a torn tail reported as %s: %v", p.Kind, p)
		}
	}
}
