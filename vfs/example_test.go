package vfs_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

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

// RemoveGraduallyUntil stops stepping once hurry reports true (a program
// shutting down, whose writers the pacing no longer protects) and unlinks
// the rest at once.
func ExampleRemoveGraduallyUntil() {
	mem := vfs.NewMem()
	_ = mem.MkdirAll("/wal")
	f, _ := mem.Create("/wal/old.log")
	_, _ = f.Write(make([]byte, 1000))
	_ = f.Close()
	var closing atomic.Bool
	closing.Store(true) // set by the shutdown path, from any goroutine
	err := vfs.RemoveGraduallyUntil(mem, "/wal/old.log", "/wal/old.log.del", 256, time.Millisecond, closing.Load)
	fmt.Println(err, mem.Exists("/wal/old.log"), mem.Exists("/wal/old.log.del"))
	// Output:
	// <nil> false false
}

// Write whole aligned blocks past the page cache where the filesystem
// allows it, and the unaligned tail through it, as a checkpoint does. Where
// the filesystem cannot write directly, SetDirect fails and every write
// goes through the page cache; the bytes are the same either way.
func ExampleDirectWriter() {
	dir, err := os.MkdirTemp("", "direct")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	f, err := vfs.Default.Create(filepath.Join(dir, "data"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()

	block := vfs.AlignedBuffer(2 * vfs.DirectAlign) // address and length aligned
	d, direct := f.(vfs.DirectWriter)
	direct = direct && d.SetDirect(true) == nil
	if _, err := f.Write(block); err != nil { // at offset 0: aligned too
		fmt.Println(err)
		return
	}
	if direct {
		if err := d.SetDirect(false); err != nil { // the tail is not a whole block
			fmt.Println(err)
			return
		}
	}
	if _, err := f.Write([]byte("tail")); err != nil {
		fmt.Println(err)
		return
	}
	if err := f.Sync(); err != nil {
		fmt.Println(err)
		return
	}
	size, _ := f.Size()
	fmt.Println(size, "bytes")
	// Output: 8196 bytes
}

// A size hint on a memory file reserves the file's room in one
// allocation; once a removed file's room is garbage it is recycled for
// the next hint of its size instead of being given back to the kernel.
// RoomCounts counts the rooms taken from such pools and those allocated.
func ExampleRoomCounts() {
	reused0, made0 := vfs.RoomCounts()
	fs := vfs.NewMem()
	f, err := fs.Create("/segment")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	f.(vfs.SizeHinter).SizeHint(5 << 20) // a new filesystem has no room to recycle
	reused, made := vfs.RoomCounts()
	fmt.Printf("reused %d, made %d\n", reused-reused0, made-made0)
	// Output: reused 0, made 1
}

// OpenRegular opens a file only if its name holds a regular file: a named
// pipe planted under a log segment's name would block a plain open until
// a writer came.
func ExampleOpenRegular() {
	dir, err := os.MkdirTemp("", "openregular")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	seg := filepath.Join(dir, "00000000000000000001.log")
	if err := os.Mkdir(seg, 0o700); err != nil { // a directory under a file's name
		panic(err)
	}
	_, err = vfs.OpenRegular(vfs.Default, seg)
	fmt.Println(errors.Is(err, vfs.ErrNotRegular), err)
	// Output:
	// true not a regular file but a directory
}

// A MemFS remembers what a power failure would leave: bytes are durable
// once their file is synced, a new name once its directory is synced.
// CrashClone returns that image; the original is unchanged. MkdirAllAndSync
// makes new directories durable.
func ExampleMemFS_CrashClone() {
	mem := vfs.NewMem()
	if err := vfs.MkdirAllAndSync(mem, "/db"); err != nil {
		panic(err)
	}
	write := func(name, data string, syncFile, syncDir bool) {
		f, err := mem.Create(name)
		if err != nil {
			panic(err)
		}
		_, _ = f.Write([]byte(data))
		if syncFile {
			_ = f.Sync()
		}
		_ = f.Close()
		if syncDir {
			_ = mem.SyncDir("/db")
		}
	}
	write("/db/synced", "kept", true, true)
	write("/db/unsynced-bytes", "lost", false, true)
	write("/db/unsynced-name", "lost too", true, false)

	img := mem.CrashClone()
	for _, name := range []string{"synced", "unsynced-bytes", "unsynced-name"} {
		f, err := img.Open("/db/" + name)
		if err != nil {
			fmt.Printf("%s: missing (%v)\n", name, vfs.IsNotExist(err))
			continue
		}
		size, _ := f.Size()
		fmt.Printf("%s: %d bytes\n", name, size)
		_ = f.Close()
	}
	fmt.Println("original untouched:", mem.Exists("/db/unsynced-name"))
	// Output:
	// synced: 4 bytes
	// unsynced-bytes: 0 bytes
	// unsynced-name: missing (true)
	// original untouched: true
}
