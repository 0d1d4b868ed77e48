package vfs_test

import (
	"fmt"

	"github.com/mmsb-go/mmsb/vfs"
)

// Mount a Scratch filesystem at one directory of an in-memory one: files
// under it live in unnamed temporary files (page cache, never fsynced),
// the rest in RAM. This is how an in-memory bus keeps its checkpoints out
// of RAM.
func ExampleMount() {
	mem := vfs.NewMem()
	if err := mem.MkdirAll("/bus"); err != nil {
		panic(err)
	}
	scratch := vfs.Scratch("") // $TMPDIR
	fs := vfs.Mount(mem, "/bus/checkpoints", scratch, "/")
	if err := fs.MkdirAll("/bus/checkpoints"); err != nil {
		panic(err)
	}
	for _, name := range []string{"/bus/log", "/bus/checkpoints/ckpt"} {
		f, err := fs.Create(name)
		if err != nil {
			panic(err)
		}
		_, _ = f.Write([]byte("bytes"))
		_ = f.Close()
	}
	fmt.Println("log in RAM:", mem.Exists("/bus/log"))
	fmt.Println("checkpoint in RAM:", mem.Exists("/bus/checkpoints/ckpt"), "in scratch:", scratch.Exists("/ckpt"))
	// Output:
	// log in RAM: true
	// checkpoint in RAM: false in scratch: true
}

// RemoveGradually hides a file under another name, frees its blocks a step
// at a time, then unlinks it.
func ExampleRemoveGradually() {
	mem := vfs.NewMem()
	_ = mem.MkdirAll("/wal")
	f, _ := mem.Create("/wal/old.log")
	_, _ = f.Write(make([]byte, 1000))
	_ = f.Close()
	err := vfs.RemoveGradually(mem, "/wal/old.log", "/wal/old.log.del", 256, 0)
	fmt.Println(err, mem.Exists("/wal/old.log"), mem.Exists("/wal/old.log.del"))
	// Output:
	// <nil> false false
}
