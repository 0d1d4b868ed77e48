package checkpoint

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestCheckpointFilePanicIsFailure makes each filesystem operation of a
// checkpoint (the directory's creation, the temporary name's checks, the
// file's creation, every buffer's write, fsync, close, rename, directory
// fsync), one per run, panic, as a caller's own vfs.FS could. Each run
// must return an error wrapping ErrFilePanicked (or commit, where the
// operation changed nothing), leave only the older checkpoint behind, and
// never panic: the bus writes checkpoints on a goroutine of its own, where
// the panic ended the process.
func TestCheckpointFilePanicIsFailure(t *testing.T) {
	const dir = "/ck"
	var recs []record
	for i := range 5 {
		p := make([]byte, 100<<10+i)
		for j := range p {
			p[j] = byte(i + j*7)
		}
		recs = append(recs, record{kind: uint8(1 + i%3), payload: p})
	}
	run := func(inj errorfs.Injector) (mem *vfs.MemFS, ops []errorfs.Op, path string, err error) {
		mem = vfs.NewMem()
		writeCheckpoint(t, mem, dir, 5, sampleRecords(4))
		fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			ops = append(ops, op)
			return inj.MaybeError(op)
		}))
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("the checkpoint panicked: %v", v)
			}
		}()
		w, err := Create(fs, dir, 9)
		if err != nil {
			return mem, ops, "", err
		}
		for _, r := range recs {
			if err := w.Append(r.kind, r.payload); err != nil {
				return mem, ops, "", err
			}
		}
		path, err = w.Commit()
		return mem, ops, path, err
	}
	_, clean, _, err := run(errorfs.Never)
	if err != nil {
		t.Fatal(err)
	}
	refused := map[errorfs.OpKind]bool{}
	for i := range clean {
		n := 0
		mem, _, path, err := run(errorfs.InjectorFunc(func(op errorfs.Op) error {
			if n++; n == i+1 {
				panic(fmt.Sprintf("driver bug in %s", op.Kind))
			}
			return nil
		}))
		name := fmt.Sprintf("op %d (%s) panics", i, clean[i])
		if err == nil {
			if verr := Verify(mem, path); verr != nil {
				t.Errorf("%s: committed %s does not verify: %v", name, path, verr)
			}
			continue
		}
		if !errors.Is(err, ErrFilePanicked) || !strings.Contains(err.Error(), "driver bug in "+clean[i].Kind.String()) {
			t.Errorf("%s: %v, want ErrFilePanicked naming the panic", name, err)
			continue
		}
		refused[clean[i].Kind] = true
		names, _ := mem.List(dir)
		if want := []string{FileName(5)}; !slices.Equal(names, want) {
			t.Errorf("%s: refused, and the directory holds %v, want %v", name, names, want)
		}
	}
	for _, k := range []errorfs.OpKind{errorfs.OpCreate, errorfs.OpWrite, errorfs.OpSync, errorfs.OpClose, errorfs.OpRename, errorfs.OpSyncDir} {
		if !refused[k] {
			t.Errorf("no run whose %s panicked was refused: %v", k, clean)
		}
	}
}

// TestPruneFSPanicIsError: Remove, List and SyncDir, which the bus's prune
// calls after a checkpoint on the same goroutine, return a panic of the
// filesystem as an error wrapping ErrFilePanicked.
func TestPruneFSPanicIsError(t *testing.T) {
	const dir = "/ck"
	mem := vfs.NewMem()
	path := writeCheckpoint(t, mem, dir, 5, sampleRecords(2))
	for _, kind := range []errorfs.OpKind{errorfs.OpRename, errorfs.OpList, errorfs.OpSyncDir, errorfs.OpOpen} {
		fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			if op.Kind == kind {
				panic("driver bug")
			}
			return nil
		}))
		var err error
		func() {
			defer func() {
				if v := recover(); v != nil {
					err = fmt.Errorf("panicked: %v", v)
				}
			}()
			switch kind {
			case errorfs.OpRename:
				err = Remove(fs, path, nil)
			case errorfs.OpList:
				_, err = List(fs, dir)
			case errorfs.OpSyncDir:
				err = SyncDir(fs, dir)
			case errorfs.OpOpen:
				err = Restat(fs, Info{Path: path, LSN: 5}).Err
			}
		}()
		if !errors.Is(err, ErrFilePanicked) {
			t.Errorf("%s panics: %v, want ErrFilePanicked", kind, err)
		}
	}
	if err := Verify(mem, path); err != nil {
		t.Fatalf("the checkpoint after the failed removal: %v", err)
	}
}
