package mmsb

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/vfs"
	"github.com/mmsb-go/mmsb/vfs/errorfs"
)

// TestOpenRemoveTempFilePanic: an FS whose Remove panics on the leftover
// temporary checkpoint that Open removes makes Open return an error
// wrapping checkpoint.ErrFilePanicked that names the panic, as a panic of
// its listing does; the directory then opens on a sound FS, with the
// committed state. Before, the panic went on to Open's caller.
func TestOpenRemoveTempFilePanic(t *testing.T) {
	mem := vfs.NewMem()
	e, err := Open("/db", &Options{FS: mem, Clock: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.CreatePage(ctx, PageSpec{Size: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := mem.Create("/db/checkpoints/checkpoint-00000000000000000001.ckpt.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fs := errorfs.Wrap(mem, errorfs.OnPath(".ckpt.tmp", errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind == errorfs.OpRemove {
			panic("driver bug in remove")
		}
		return nil
	})))
	var b *Bus
	if v := boundedCall(t, "Open", func() { b, err = Open("/db", &Options{FS: fs, Clock: testClock()}) }); v != nil {
		t.Fatalf("Open panicked with %v; want an error", v)
	}
	if err == nil {
		_ = b.Close()
		t.Fatal("Open with a panicking Remove succeeded; want ErrFilePanicked")
	}
	if !errors.Is(err, checkpoint.ErrFilePanicked) || !strings.Contains(err.Error(), "driver bug in remove") {
		t.Fatalf("Open = %v; want checkpoint.ErrFilePanicked naming the panic", err)
	}
	e = openT(t, "/db", &Options{FS: mem, Clock: testClock()})
	if _, _, err := e.ReadPage(id, nil); err != nil {
		t.Fatalf("ReadPage after reopening: %v", err)
	}
}
