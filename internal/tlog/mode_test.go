package tlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestModeFileRefusesMalformed: every byte of the 16-byte log-mode file is
// checked; anything else is ErrBadMode naming what was wrong, and both
// modes survive a round trip.
func TestModeFileRefusesMalformed(t *testing.T) {
	for _, m := range []Mode{ModeLog, ModeNoLog} {
		got, err := decodeMode(encodeMode(m))
		if err != nil || got != m {
			t.Fatalf("round trip of %v = %v, %v", m, got, err)
		}
	}
	good := encodeMode(ModeLog)
	withCRC := func(b []byte) []byte { // a valid CRC over changed bytes
		b = append([]byte(nil), b...)
		binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], modeCRC))
		return b
	}
	set := func(i int, v byte) []byte {
		b := append([]byte(nil), good...)
		b[i] = v
		return withCRC(b)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "0 bytes"},
		{"short", good[:15], "15 bytes"},
		{"long", append(append([]byte(nil), good...), 0), "17 bytes"},
		{"magic", set(0, 'X'), "magic"},
		{"crc", func() []byte { b := append([]byte(nil), good...); b[15] ^= 1; return b }(), "CRC"},
		{"version", set(8, 2), "version 2"},
		{"mode 0", set(9, 0), "mode 0"},
		{"mode 3", set(9, 3), "mode 3"},
		{"reserved", set(10, 1), "reserved"},
	} {
		_, err := decodeMode(tc.b)
		if !errors.Is(err, ErrBadMode) || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%s: decodeMode = %v, want ErrBadMode saying %q", tc.name, err, tc.want)
		}
	}
	// A file that reads badly is named by ReadMode.
	fs := vfs.NewMem()
	writeFileBytes(t, fs, "/ck/"+ModeFileName, good[:7])
	if _, err := ReadMode(fs, "/ck"); !errors.Is(err, ErrBadMode) || !bytes.Contains([]byte(err.Error()), []byte("/ck/"+ModeFileName)) {
		t.Fatalf("ReadMode = %v, want ErrBadMode naming the file", err)
	}
	if m, err := ReadMode(fs, "/missing"); m != ModeUnknown || err != nil {
		t.Fatalf("ReadMode of no file = %v, %v, want unknown", m, err)
	}
}

func writeFileBytes(t *testing.T, fs vfs.FS, path string, b []byte) {
	t.Helper()
	if err := fs.MkdirAll(fs.Join(path, "..")); err != nil {
		t.Fatal(err)
	}
	f, err := fs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeMode: no input panics, and what decodes encodes back to the
// same bytes (the format has one spelling per mode).
func FuzzDecodeMode(f *testing.F) {
	f.Add(encodeMode(ModeLog))
	f.Add(encodeMode(ModeNoLog))
	f.Add([]byte("MMSBLOGM"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMode(b)
		if err != nil {
			if !errors.Is(err, ErrBadMode) {
				t.Fatalf("error %v is not ErrBadMode", err)
			}
			return
		}
		if !bytes.Equal(encodeMode(m), b) {
			t.Fatalf("%x decodes to %v, which encodes to %x", b, m, encodeMode(m))
		}
	})
}

// TestWriteModeCrashSafe: a crash at any point of WriteMode, under every
// model of what unsynced directory entries do, leaves the old mode or the
// new one, never a file that does not read; once it returns the new mode
// is durable.
func TestWriteModeCrashSafe(t *testing.T) {
	for _, from := range []Mode{ModeUnknown, ModeNoLog} {
		for _, entries := range []vfs.EntryMode{vfs.DropUnsyncedEntries, vfs.KeepUnsyncedEntries, vfs.RandomUnsyncedEntries} {
			t.Run(fmt.Sprintf("from %v, entries %d", from, entries), func(t *testing.T) {
				mem := vfs.NewMem()
				if err := vfs.MkdirAllAndSync(mem, "/ck"); err != nil {
					t.Fatal(err)
				}
				if from != ModeUnknown {
					if err := WriteMode(mem, "/ck", from); err != nil {
						t.Fatal(err)
					}
				}
				check := func(when string, seed int64) {
					clone := mem.CrashCloneWith(vfs.CrashOptions{Seed: seed, Entries: entries, TornTail: true})
					m, err := ReadMode(clone, "/ck")
					if err != nil || m != from && m != ModeLog {
						t.Fatalf("crash %s: mode %v, %v; want %v or %v", when, m, err, from, ModeLog)
					}
				}
				ops := 0
				fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
					ops++
					for seed := range int64(4) {
						check(fmt.Sprintf("before op %d (%v)", ops, op), seed)
					}
					return nil
				}))
				if err := WriteMode(fs, "/ck", ModeLog); err != nil {
					t.Fatal(err)
				}
				if ops < 5 {
					t.Fatalf("WriteMode made %d operations: the crash points were not visited", ops)
				}
				if m, err := ReadMode(mem.CrashClone(), "/ck"); err != nil || m != ModeLog {
					t.Fatalf("after WriteMode, a crash leaves mode %v, %v; want %v", m, err, ModeLog)
				}
			})
		}
	}
}

// TestKeepSegment: with KeepSegment an empty log directory gets an empty
// segment where the log continues, and an empty only segment starting
// there (torn header included) is kept instead of removed; without it
// (the control) the directory is left without a segment. Appends then
// continue it.
func TestKeepSegment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, fs vfs.FS)
		always  bool // a segment at every crash point of Open (with KeepSegment)
	}{
		{"empty directory", func(*testing.T, vfs.FS) {}, false},
		{"only segment empty", func(t *testing.T, fs vfs.FS) {
			if err := CreateEmptySegment(fs, "/wal", 8); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"only segment with a torn header", func(t *testing.T, fs vfs.FS) {
			writeFileBytes(t, fs, "/wal/"+SegmentName(8), appendSegmentHeader(nil, 8)[:5])
			if err := fs.SyncDir("/wal"); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"only segment empty, elsewhere", func(t *testing.T, fs vfs.FS) {
			if err := CreateEmptySegment(fs, "/wal", 3); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, keep %v", tc.name, keep), func(t *testing.T) {
				fs := vfs.NewMem()
				if err := vfs.MkdirAllAndSync(fs, "/wal"); err != nil {
					t.Fatal(err)
				}
				tc.prepare(t, fs)
				// A crash at any point of Open leaves a segment where
				// one was: a removal followed by a creation would not.
				ops := 0
				watched := errorfs.Wrap(fs, errorfs.InjectorFunc(func(op errorfs.Op) error {
					ops++
					if !keep || !tc.always {
						return nil
					}
					if has, err := HasSegment(fs.CrashClone(), "/wal"); err != nil || !has {
						t.Errorf("crash before operation %d (%v) of Open: a segment %v, %v; want one", ops, op, has, err)
					}
					return nil
				}))
				l, _, err := Open(Options{FS: watched, Dir: "/wal", Sync: SyncAlways, KeepSegment: keep}, 7, nil)
				if err != nil {
					t.Fatal(err)
				}
				has, err := HasSegment(fs.CrashClone(), "/wal")
				if err != nil {
					t.Fatal(err)
				}
				if has != keep {
					t.Fatalf("after Open, a durable segment: %v, want %v", has, keep)
				}
				if _, err := l.Append(8, 1, []byte("x")); err != nil {
					t.Fatal(err)
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				l, rep, err := Open(Options{FS: fs, Dir: "/wal", KeepSegment: keep}, 7, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
				if rep.LastLSN != 8 || l.LastLSN() != 8 {
					t.Fatalf("reopened log ends at %d (report %d), want 8", l.LastLSN(), rep.LastLSN)
				}
			})
		}
	}
}

// TestModeFileMatchesFormatsDoc: the bytes of docs/formats.md's
// "Log-mode file" table, built from the table alone (its own offsets and
// constants), are what WriteMode writes and what ReadMode reads.
func TestModeFileMatchesFormatsDoc(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		code byte
	}{{ModeLog, 1}, {ModeNoLog, 2}} {
		want := make([]byte, 16)
		copy(want[0:8], "MMSBLOGM")
		want[8] = 1       // version
		want[9] = tc.code // mode
		// 10..11 zero
		binary.LittleEndian.PutUint32(want[12:16], crc32.Checksum(want[0:12], crc32.MakeTable(crc32.Castagnoli)))
		fs := vfs.NewMem()
		if err := vfs.MkdirAllAndSync(fs, "/ck"); err != nil {
			t.Fatal(err)
		}
		if err := WriteMode(fs, "/ck", tc.mode); err != nil {
			t.Fatal(err)
		}
		f, err := fs.Open("/ck/log-mode")
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 32)
		n, _ := f.ReadAt(got, 0)
		_ = f.Close()
		if !bytes.Equal(got[:n], want) {
			t.Fatalf("%v: file %x, table %x", tc.mode, got[:n], want)
		}
		if m, err := decodeMode(want); err != nil || m != tc.mode {
			t.Fatalf("table bytes decode to %v, %v; want %v", m, err, tc.mode)
		}
	}
}

// TestWriteModeRemovesLeftoverTemp: a crash during a WriteMode leaves
// log-mode.tmp; the next Open's WriteMode of the mode already there
// removed nothing, and the *.tmp stayed for ever (the crash suite takes a
// *.tmp in checkpoints/ for unfinished work).
func TestWriteModeRemovesLeftoverTemp(t *testing.T) {
	fs := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(fs, "/ck"); err != nil {
		t.Fatal(err)
	}
	if err := WriteMode(fs, "/ck", ModeLog); err != nil {
		t.Fatal(err)
	}
	writeFileBytes(t, fs, "/ck/"+ModeFileName+".tmp", encodeMode(ModeNoLog)[:3])
	if err := WriteMode(fs, "/ck", ModeLog); err != nil {
		t.Fatal(err)
	}
	if fs.Exists("/ck/" + ModeFileName + ".tmp") {
		t.Fatal("WriteMode left the temporary file of an earlier crash")
	}
	if m, err := ReadMode(fs, "/ck"); err != nil || m != ModeLog {
		t.Fatalf("mode %v, %v; want %v", m, err, ModeLog)
	}
}
