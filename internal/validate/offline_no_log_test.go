package validate

import (
	"errors"
	"testing"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/tlog"
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
			if err := fs.Remove(busDir + "/checkpoints/" + tlog.ModeFileName); err != nil { // nor had it this
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
		// Its checkpoints/log-mode says it has no log: Offline sets
		// NoLog, and the validators answer as told (the first case).
		// Before the file, replay reported the operations between
		// checkpoints missing, as an emptied log (rm wal/*) looked the
		// same, and NoLog had to be said.
		if !Offline(fs, busDir, nil).NoLog {
			t.Fatal("Offline did not read the directory's log mode (no log)")
		}
		for _, v := range All() {
			rep, err := v.Fn(ctx, Offline(fs, busDir, nil), Options{})
			want := OutcomePass
			if v.Name == "integrity" || v.Name == "replay" || v.Name == "provenance" {
				want = OutcomeNotCompared
			}
			if err != nil || rep.Outcome() != want {
				t.Errorf("%s: outcome %s, %v (problems: %v); want %s", v.Name, rep.Outcome(), err, rep.Problems, want)
			}
		}
	})
}
