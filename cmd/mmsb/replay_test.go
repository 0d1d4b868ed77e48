package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

func replayJSON(t *testing.T, args ...string) replayResult {
	t.Helper()
	r := runCLI(t, append([]string{"replay", "--json"}, args...)...).mustCode(t, exitOK)
	var res replayResult
	r.decodeJSON(t, &res)
	return res
}

func TestReplayToLSN(t *testing.T) {
	tb := newTestBus(t)
	for _, tc := range []struct {
		name string
		lsn  mmsb.LSN
		hash uint64
	}{{"at checkpoint", tb.midLSN, tb.midHash}, {"end", tb.lastLSN, tb.finalHash}} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			res := replayJSON(t, tb.dir, "--to-lsn", itoa(uint64(tc.lsn)), "--out", out)
			if res.LSN != uint64(tc.lsn) || res.StateHash != hash64(tc.hash) || res.Pages != 5 || res.Edges != 3 || res.Bindings != 1 {
				t.Fatalf("%+v, want LSN %d hash %s", res, tc.lsn, hash64(tc.hash))
			}
			// The new directory is a clean, working bus continuing at LSN+1.
			runCLI(t, "check", out).mustCode(t, exitOK)
			bus, err := mmsb.Open(out, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer bus.Close()
			if bus.LastLSN() != tc.lsn || hashOf(t, bus) != tc.hash {
				t.Fatalf("reopened: LSN %d hash %x", bus.LastLSN(), hashOf(t, bus))
			}
			if b, ok := bus.Binding(3); !ok || b.Func != "passthrough" {
				t.Fatalf("binding lost: %+v", b)
			}
			info, err := bus.Commit(context.Background(), []mmsb.Delta{mmsb.Write(1, 0, []byte("next"))})
			if err != nil || info.FirstLSN != tc.lsn+1 {
				t.Fatalf("commit after replay: %+v %v", info, err)
			}
		})
	}
}

func TestReplayEveryLSNMatchesLibrary(t *testing.T) {
	tb := newTestBus(t)
	for lsn := mmsb.LSN(1); lsn <= tb.lastLSN; lsn += 3 {
		want, err := mmsb.Replay(context.Background(), tb.dir, mmsb.ReplayTarget{ToLSN: lsn}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// An LSN inside a batch replays the whole batch: the library and
		// the command stop at its last LSN alike.
		wantHash, wantLSN := hash64(hashOf(t, want)), want.LastLSN()
		want.Close()
		if wantLSN < lsn {
			t.Fatalf("Replay to LSN %d stopped at LSN %d, before it", lsn, wantLSN)
		}
		res := replayJSON(t, tb.dir, "--to-lsn", itoa(uint64(lsn)), "--out", filepath.Join(t.TempDir(), "o"))
		if res.LSN != uint64(wantLSN) || res.StateHash != wantHash {
			t.Fatalf("LSN %d: got %+v, want LSN %d, hash %s", lsn, res, wantLSN, wantHash)
		}
	}
}

func TestReplayPageEpochAndTime(t *testing.T) {
	tb := newTestBus(t)
	res := replayJSON(t, tb.dir, "--page", "2", "--epoch", "2", "--out", filepath.Join(t.TempDir(), "o"))
	bus, err := mmsb.Open(res.Out, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := bus.Page(2)
	bus.Close()
	if err != nil || p.Epoch != 2 || res.LSN != uint64(p.LastLSN) {
		t.Fatalf("page 2 %+v (%v), replay stopped at LSN %d", p, err, res.LSN)
	}
	// Every commit happened before now: a time target of now replays all.
	now := time.Now().UTC().Format(time.RFC3339Nano)
	res = replayJSON(t, tb.dir, "--to-time", now, "--out", filepath.Join(t.TempDir(), "o"))
	if res.LSN != uint64(tb.lastLSN) || res.StateHash != hash64(tb.finalHash) {
		t.Fatalf("--to-time now: %+v", res)
	}
	// A page that never reaches the epoch is an error, not a silent copy.
	r := runCLI(t, "replay", tb.dir, "--page", "2", "--epoch", "99", "--out", filepath.Join(t.TempDir(), "o")).mustCode(t, exitFailure)
	if !strings.Contains(r.stderr, "never reached epoch 99") {
		t.Fatalf("stderr %q", r.stderr)
	}
}

func TestReplayText(t *testing.T) {
	tb := newTestBus(t)
	out := filepath.Join(t.TempDir(), "out")
	r := runCLI(t, "replay", tb.dir, "--to-lsn", itoa(uint64(tb.midLSN)), "--out", out).mustCode(t, exitOK)
	for _, want := range []string{"LSN         " + itoa(uint64(tb.midLSN)), "state hash  " + hash64(tb.midHash), out} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestReplayBadInput(t *testing.T) {
	tb := newTestBus(t)
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(t.TempDir(), "o")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no out", []string{tb.dir, "--to-lsn", "3"}, exitUsage, "--out is required"},
		{"page without epoch", []string{tb.dir, "--page", "2", "--out", fresh}, exitUsage, "go together"},
		{"epoch without page", []string{tb.dir, "--epoch", "2", "--out", fresh}, exitUsage, "go together"},
		{"epoch zero", []string{tb.dir, "--page", "2", "--epoch", "0", "--out", fresh}, exitUsage, "at least 1"},
		// --page 0 names no page: alone it replayed the whole log (exit 0),
		// with --epoch it was told that the two go together.
		{"page zero", []string{tb.dir, "--page", "0", "--out", fresh}, exitUsage, "--page must be at least 1"},
		{"page zero with epoch", []string{tb.dir, "--page", "0", "--epoch", "2", "--out", fresh}, exitUsage, "--page must be at least 1"},
		{"bad time", []string{tb.dir, "--to-time", "yesterday", "--out", fresh}, exitUsage, "--to-time"},
		// The targets are alternatives: together the replay would stop at
		// whichever came first (a time before the first commit gave LSN 0
		// and "the log ends at LSN 0, before --to-lsn 3", exit 0).
		{"lsn and time", []string{tb.dir, "--to-lsn", "3", "--to-time", "2020-01-01T00:00:00Z", "--out", fresh}, exitUsage, "exclude each other"},
		{"lsn and page", []string{tb.dir, "--to-lsn", "3", "--page", "1", "--epoch", "1", "--out", fresh}, exitUsage, "exclude each other"},
		{"time and page", []string{tb.dir, "--to-time", "2020-01-01T00:00:00Z", "--page", "1", "--epoch", "1", "--out", fresh}, exitUsage, "exclude each other"},
		{"lsn past the end", []string{tb.dir, "--to-lsn", "999999999", "--out", fresh}, exitFailure, "past the last LSN"},
		// A usage error, as --out a file or inside DIR: it exited 1.
		{"out not empty", []string{tb.dir, "--out", full}, exitUsage, "usage: --out " + full + ": output directory is not empty: it holds 1 entry"},
		{"out is source", []string{tb.dir, "--out", tb.dir}, exitUsage, "must differ from DIR"}, // docs/cli.md: a usage error (it was "not empty", exit 1)
		{"not a data dir", []string{full, "--out", fresh}, exitFailure, "not an MMSB data directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"replay"}, tc.args...)...).mustCode(t, tc.code)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.want)
			}
		})
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a failed replay created %s", fresh)
	}
	if names, _ := os.ReadDir(full); len(names) != 1 {
		t.Fatalf("replay wrote into a non-empty directory: %v", names)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1700000000000000000", 1700000000000000000, true},
		{"2026-01-02T15:04:05Z", time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC).UnixNano(), true},
		{"2026-01-02T15:04:05.5+01:00", time.Date(2026, 1, 2, 14, 4, 5, 5e8, time.UTC).UnixNano(), true},
		{"0", 0, false},
		{"-5", 0, false},
		{"2026-01-02", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, err := parseTime(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("parseTime(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
