package checkpoint

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/internal/base"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestRemoveTempAndVerifyFilePanic makes each filesystem or file
// operation of RemoveTemp (the listing, each leftover's removal, the
// directory's fsync) and of Verify (the open, every read, the close), one
// per run, panic, as a caller's own vfs.FS could. Each must return an
// error wrapping ErrFilePanicked that names the panic (for Verify, not
// ErrCorruption: the bytes are not in question), and RemoveTemp must
// leave the checkpoint itself in place. Before, the panic went on to the
// caller: the bus's Open (RemoveTemp) or its checkpointing goroutine in
// invariants builds (Verify), which ended the process.
func TestRemoveTempAndVerifyFilePanic(t *testing.T) {
	const dir = "/ck"
	setup := func() (*vfs.MemFS, string) {
		mem := vfs.NewMem()
		path := writeCheckpoint(t, mem, dir, 5, sampleRecords(4))
		for _, lsn := range []base.LSN{1, 2} {
			f, err := mem.Create(mem.Join(dir, tempName(lsn)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("partial")); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
		return mem, path
	}
	for _, fn := range []string{"RemoveTemp", "Verify"} {
		call := func(fs vfs.FS, path string) (err error) {
			defer func() {
				if v := recover(); v != nil {
					err = fmt.Errorf("%s panicked: %v", fn, v)
				}
			}()
			if fn == "RemoveTemp" {
				return RemoveTemp(fs, dir)
			}
			return Verify(fs, path)
		}
		var clean []errorfs.Op
		mem, path := setup()
		if err := call(errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
			clean = append(clean, op)
			return nil
		})), path); err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		if len(clean) < 3 {
			t.Fatalf("%s made %d operations (%v); want the listing or open and more", fn, len(clean), clean)
		}
		for i := range clean {
			mem, path := setup()
			n := 0
			fs := errorfs.Wrap(mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
				if n++; n == i+1 {
					panic(fmt.Sprintf("driver bug in %s", op.Kind))
				}
				return nil
			}))
			err := call(fs, path)
			name := fmt.Sprintf("%s, op %d (%s) panics", fn, i, clean[i])
			if !errors.Is(err, ErrFilePanicked) || !strings.Contains(err.Error(), "driver bug in "+clean[i].Kind.String()) {
				t.Errorf("%s: %v, want ErrFilePanicked naming the panic", name, err)
			}
			if errors.Is(err, corruption.ErrCorruption) {
				t.Errorf("%s: %v reports corruption", name, err)
			}
			if !mem.Exists(path) {
				t.Errorf("%s: the checkpoint %s is gone", name, path)
			}
		}
	}
}
