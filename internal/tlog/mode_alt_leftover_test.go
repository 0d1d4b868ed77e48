package tlog

import (
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
)

// TestWriteModeRemovesLeftoverAltTemp: the second temporary name of the
// log-mode file (log-mode.alt.tmp, written through while a directory sat
// under log-mode.tmp) left by a crash goes with the next write that
// changes the mode, once log-mode.tmp is free again. Before, it stayed
// until a write found the mode already set, which a directory opened in
// turn with and without a log never makes.
func TestWriteModeRemovesLeftoverAltTemp(t *testing.T) {
	fs := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(fs, "/ck"); err != nil {
		t.Fatal(err)
	}
	if err := WriteMode(fs, "/ck", ModeLog); err != nil {
		t.Fatal(err)
	}
	alt := "/ck/" + ModeFileName + modeAltTempSuffix
	for _, m := range []Mode{ModeNoLog, ModeLog} {
		writeFileBytes(t, fs, alt, encodeMode(m)[:3])
		if err := WriteMode(fs, "/ck", m); err != nil {
			t.Fatal(err)
		}
		if fs.Exists(alt) {
			t.Errorf("WriteMode(%v) over another mode left %s, the temporary of an earlier crash", m, alt)
		}
		if got, err := ReadMode(fs, "/ck"); err != nil || got != m {
			t.Fatalf("mode %v, %v; want %v", got, err, m)
		}
	}
}
