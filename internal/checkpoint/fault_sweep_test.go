package checkpoint

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestCommitFaultAtEveryOp fails each filesystem operation of a checkpoint
// (create, every buffer's write, fsync, close, rename, directory fsync),
// one per run, with a plain error, a short write and a full disk, beside an
// older checkpoint. Every run must end either committed, with the new file
// whole under its name, or refused with the injected error, with no file
// of the new LSN (final or temporary) and the old checkpoint whole; a
// crash right after (every unsynced byte and entry lost, or every entry
// kept) must leave only whole checkpoints under final names, the new one
// among them if Commit returned its path.
func TestCommitFaultAtEveryOp(t *testing.T) {
	const dir = "/ck"
	// Two 256 KiB buffers and a partial one: several writes, so that a
	// write fails with earlier buffers already in the file.
	var recs []record
	for i := range 7 {
		p := make([]byte, 100<<10+i)
		for j := range p {
			p[j] = byte(i + j*31)
		}
		recs = append(recs, record{kind: uint8(1 + i%3), payload: p})
	}
	// run takes a checkpoint of LSN 9 beside one of LSN 5 through inj, and
	// returns the filesystem, the operations seen and the result.
	run := func(inj errorfs.Injector) (*vfs.MemFS, []errorfs.Op, string, error) {
		mem := vfs.NewMem()
		writeCheckpoint(t, mem, dir, 5, sampleRecords(4))
		var ops []errorfs.Op
		fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			ops = append(ops, op)
			return inj.MaybeError(op)
		}))
		w, err := Create(fs, dir, 9)
		if err != nil {
			return mem, ops, "", err
		}
		for _, r := range recs {
			if err := w.Append(r.kind, r.payload); err != nil {
				return mem, ops, "", err
			}
		}
		path, err := w.Commit()
		return mem, ops, path, err
	}
	_, clean, _, err := run(errorfs.Never)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[errorfs.OpKind]int{}
	for _, op := range clean {
		kinds[op.Kind]++
	}
	for _, k := range []errorfs.OpKind{errorfs.OpCreate, errorfs.OpWrite, errorfs.OpSync, errorfs.OpClose, errorfs.OpRename, errorfs.OpSyncDir} {
		if kinds[k] == 0 {
			t.Fatalf("a checkpoint made no %s: %v", k, clean)
		}
	}
	if kinds[errorfs.OpWrite] < 3 {
		t.Fatalf("%d writes, want 3 or more: %v", kinds[errorfs.OpWrite], clean)
	}
	faults := []error{errorfs.ErrInjected, errorfs.ErrShortWrite, errorfs.ErrNoSpace}
	for i := range clean {
		for _, fault := range faults {
			name := fmt.Sprintf("op %d (%s), %v", i, clean[i], fault)
			n := 0
			mem, _, path, err := run(errorfs.InjectorFunc(func(errorfs.Op) error {
				if n++; n == i+1 {
					return fault
				}
				return nil
			}))
			if err == nil {
				// Nothing the checkpoint depends on failed: only an
				// operation whose failure changes nothing may be the one.
				if err := Verify(mem, path); err != nil {
					t.Errorf("%s: committed %s does not verify: %v", name, path, err)
				}
			} else {
				if !errors.Is(err, fault) {
					t.Errorf("%s: %v, want the injected error", name, err)
				}
				names, _ := mem.List(dir)
				if want := []string{FileName(5)}; !slices.Equal(names, want) {
					t.Errorf("%s: refused, and the directory holds %v, want %v", name, names, want)
				}
				path = ""
			}
			if err := Verify(mem, mem.Join(dir, FileName(5))); err != nil {
				t.Errorf("%s: the old checkpoint: %v", name, err)
			}
			for _, entries := range []vfs.EntryMode{vfs.DropUnsyncedEntries, vfs.KeepUnsyncedEntries} {
				img := mem.CrashCloneWith(vfs.CrashOptions{Entries: entries})
				infos, lerr := List(img, dir)
				if lerr != nil {
					t.Fatalf("%s: List after a crash: %v", name, lerr)
				}
				var lsns []base.LSN
				for _, in := range infos {
					lsns = append(lsns, in.LSN)
					if err := Verify(img, in.Path); err != nil {
						t.Errorf("%s: after a crash (entries %d), %s does not verify: %v", name, entries, in.Path, err)
					}
				}
				if path != "" && !slices.Contains(lsns, 9) {
					t.Errorf("%s: Commit returned %s, gone after a crash: %v", name, path, lsns)
				}
				if !slices.Contains(lsns, 5) {
					t.Errorf("%s: the old checkpoint is gone after a crash: %v", name, lsns)
				}
			}
		}
	}
}

// silentShortFS's files write half of each buffer and report no error,
// breaking io.Writer's contract (a caller's own vfs.FS could).
type silentShortFS struct{ vfs.FS }

type silentShortFile struct{ vfs.File }

func (fs silentShortFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return silentShortFile{f}, nil
}

func (f silentShortFile) Write(p []byte) (int, error) {
	return f.File.Write(p[:len(p)/2])
}

// TestSilentShortWriteFails: a file whose Write writes part of the buffer
// without an error fails the checkpoint with io.ErrShortWrite, naming the
// counts, and leaves no final file. Before, the writer counted the
// buffer as written and Commit renamed a file missing its second half
// into place under a checkpoint's name.
func TestSilentShortWriteFails(t *testing.T) {
	mem := vfs.NewMem()
	w, err := Create(silentShortFS{mem}, "/ck", 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range sampleRecords(4) {
		if err := w.Append(r.kind, r.payload); err != nil {
			t.Fatal(err)
		}
	}
	path, err := w.Commit()
	if !errors.Is(err, io.ErrShortWrite) || !strings.Contains(err.Error(), "bytes written") {
		t.Fatalf("Commit = %q, %v; want io.ErrShortWrite with the counts", path, err)
	}
	if names, _ := mem.List("/ck"); len(names) != 0 {
		t.Fatalf("files left: %v", names)
	}
}
