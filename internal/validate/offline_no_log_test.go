package validate

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestOfflineDirectoryWithoutLog: a directory written by a bus without a
// log (Options.DisableLog) before 2026-12-06 holds checkpoints and no
// wal/, as one whose log was removed does, and mmsb.Replay refuses it
// unless told (DisableLog). (Such a bus makes an empty wal/ now, and its
// directory needs nothing: the last case.)
// Every offline validator then failed on it (the rebuild: ErrCorruption;
// integrity: a problem, "the log was removed"), with no way to say what
// the directory is. Target.NoLog says it: the checks of the state run on
// the newest checkpoint's state and pass, and integrity and replay, which
// need a log, report not compared. NoLog on a directory with a log is
// refused: "not compared" would hide its log's problems.
func TestOfflineDirectoryWithoutLog(t *testing.T) {
	keepEmptyLog := false
	write := func(t *testing.T, disableLog bool) vfs.FS {
		t.Helper()
		fs := vfs.NewMem()
		e, err := mmsb.Open(busDir, &mmsb.Options{FS: fs, Clock: testClock(), DisableLog: disableLog, CheckpointBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := e.CreatePages(ctx, []mmsb.PageSpec{{Size: 16}, {Size: 16}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Bind(ctx, ids[1], "passthrough", nil, []mmsb.PageID{ids[0]}); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if _, err := e.Commit(ctx, []mmsb.Delta{mmsb.Write(ids[0], uint32(i), []byte{byte(i + 1)})}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Propagate(ctx); err != nil {
				t.Fatal(err)
			}
			if i%2 == 1 {
				if _, err := e.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if disableLog && !keepEmptyLog {
			if err := fs.Remove(busDir + "/wal"); err != nil { // as written before 2026-12-06
				t.Fatal(err)
			}
		}
		return fs
	}
	t.Run("written without a log, NoLog", func(t *testing.T) {
		fs := write(t, true)
		tgt := Offline(fs, busDir, nil)
		tgt.NoLog = true
		for _, v := range All() {
			rep, err := v.Fn(ctx, tgt, Options{})
			if err != nil {
				t.Errorf("%s: %v", v.Name, err)
				continue
			}
			want := OutcomePass
			if v.Name == "integrity" || v.Name == "replay" || v.Name == "provenance" {
				want = OutcomeNotCompared
			}
			if got := rep.Outcome(); got != want {
				t.Errorf("%s: outcome %s (not compared: %q; problems: %v), want %s", v.Name, got, rep.NotCompared, rep.Problems, want)
			}
		}
	})
	t.Run("written without a log, not said (control)", func(t *testing.T) {
		fs := write(t, true)
		rep, err := Integrity(ctx, Offline(fs, busDir, nil), Options{})
		if err != nil || rep.Total == 0 {
			t.Errorf("integrity: %d problem(s), %v; want the removed log reported", rep.Total, err)
		}
		if _, err := Graph(ctx, Offline(fs, busDir, nil), Options{}); !errors.Is(err, mmsb.ErrCorruption) {
			t.Errorf("graph: %v, want ErrCorruption (the directory reads as one whose log was removed)", err)
		}
	})
	t.Run("written with a log, NoLog refused", func(t *testing.T) {
		fs := write(t, false)
		tgt := Offline(fs, busDir, nil)
		tgt.NoLog = true
		for _, v := range All() {
			if _, err := v.Fn(ctx, tgt, Options{}); !errors.Is(err, mmsb.ErrInvalidOption) {
				t.Errorf("%s: %v, want ErrInvalidOption (NoLog on a directory whose log holds records)", v.Name, err)
			}
		}
	})
	t.Run("written without a log since 2026-12-06, not said", func(t *testing.T) {
		keepEmptyLog = true
		defer func() { keepEmptyLog = false }()
		fs := write(t, true)
		for _, v := range All() {
			rep, err := v.Fn(ctx, Offline(fs, busDir, nil), Options{})
			if v.Name == "replay" {
				// Replay from the oldest checkpoint cannot reach the
				// newest through an empty log, and an emptied log
				// (rm wal/*) looks the same: it is reported, and NoLog
				// (the first case) is how to say the directory never
				// had a log.
				if err != nil || !strings.Contains(fmt.Sprint(rep.Problems), "committed operations are missing") {
					t.Errorf("replay: outcome %s, %v (problems: %v); want the operations between checkpoints reported missing", rep.Outcome(), err, rep.Problems)
				}
				continue
			}
			if err != nil || rep.Outcome() == OutcomeFail {
				t.Errorf("%s: outcome %s, %v (problems: %v); want no failure (its empty wal/ says nothing was logged past the newest checkpoint)", v.Name, rep.Outcome(), err, rep.Problems)
			}
		}
	})
}
