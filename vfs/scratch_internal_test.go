package vfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"
)

// TestScratchReusesRemovedFile: the OS file of a removed scratch file is
// kept and the next file created is made on it (page cache and all), and
// that file shows none of the old bytes: not on reads, not where a
// truncation grows it, not in a gap a write leaves, not to a handle opened
// for appending. A lock file is not made on the spare. The negative
// control, writing past the end without cutting the OS file back to the
// file's length, was seen to fail it (the gap read the byte a truncation
// had cut off).
func TestScratchReusesRemovedFile(t *testing.T) {
	fs := Scratch(t.TempDir()).(*scratchFS)
	create := func(name string) File {
		t.Helper()
		f, err := fs.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	a := create("/a")
	if _, err := a.Write(bytes.Repeat([]byte{0xAB}, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove("/a"); err != nil {
		t.Fatal(err)
	}
	if fs.spare != nil {
		t.Fatal("a removed file still open became the spare")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if fs.spare == nil || fs.spareLen != 1<<20 {
		t.Fatalf("spare %v of %d bytes after the removed file's close, want 1 MiB", fs.spare != nil, fs.spareLen)
	}
	lock, err := fs.Lock("/lock")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if fs.reused != 0 {
		t.Fatal("the lock file was made on the spare")
	}
	b := create("/b")
	defer b.Close()
	if fs.reused != 1 || fs.spare != nil {
		t.Fatalf("new file not made on the spare (reused %d)", fs.reused)
	}
	check := func(step string, want []byte) {
		t.Helper()
		if n, _ := b.Size(); n != int64(len(want)) {
			t.Fatalf("%s: size %d, want %d", step, n, len(want))
		}
		got := make([]byte, len(want)+10)
		n, err := b.ReadAt(got, 0)
		if !errors.Is(err, io.EOF) || n != len(want) || !bytes.Equal(got[:n], want) {
			t.Fatalf("%s: read %d bytes (%v), %d of them 0xAB; want %d", step, n, err, bytes.Count(got[:n], []byte{0xAB}), len(want))
		}
		r, err := fs.Open("/b")
		if err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(all, want) {
			t.Fatalf("%s: a reader reads %d bytes (%v), want %d", step, len(all), err, len(want))
		}
	}
	check("new", []byte{})
	if _, err := b.Write([]byte("xy")); err != nil {
		t.Fatal(err)
	}
	check("written", []byte("xy"))
	if err := b.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4096)
	copy(want, "xy")
	check("grown", want)
	if err := b.Truncate(1); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Write([]byte("z")); err != nil { // at offset 2: a gap of one byte
		t.Fatal(err)
	}
	check("gap", []byte("x\x00z"))
	ap, err := fs.OpenAppend("/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ap.Write([]byte("!")); err != nil {
		t.Fatal(err)
	}
	ap.Close()
	check("appended", []byte("x\x00z!"))
}

// TestScratchCloseWaitsForWrite: a Write that has passed its checks when
// the handle is closed finishes before Close returns, so it cannot land
// in the handle's OS file after that file became the spare and was reused
// by the next file created. Before, Close returned at once, the next file
// was made on the spare, and the late write put "LATE" into it (it read
// "LATEimvictim..." where "victimvictim..." was written).
func TestScratchCloseWaitsForWrite(t *testing.T) {
	fs := Scratch(t.TempDir()).(*scratchFS)
	f, err := fs.Create("/a")
	if err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove("/a"); err != nil { // Close will make it the spare
		t.Fatal(err)
	}
	inWrite, release := make(chan struct{}), make(chan struct{})
	testHookScratchWrite = func() {
		close(inWrite)
		<-release
	}
	defer func() { testHookScratchWrite = nil }()
	wrote := make(chan error, 1)
	go func() {
		_, err := f.Write([]byte("LATE"))
		wrote <- err
	}()
	<-inWrite
	testHookScratchWrite = nil // only the first Write waits
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	// Close either returns (the write still to come: the old behaviour)
	// or waits for the write; after a bounded wait, let the write go.
	select {
	case err := <-closed:
		closed <- err
	case <-time.After(2 * time.Second):
	}
	victimData := bytes.Repeat([]byte("victim"), 100)
	var victim File
	select {
	case err := <-closed:
		// Close returned with the write still held: make the next file
		// now, on the spare, then let the write go.
		if err != nil {
			t.Fatal(err)
		}
		if victim, err = fs.Create("/v"); err != nil {
			t.Fatal(err)
		}
		if _, err := victim.Write(victimData); err != nil {
			t.Fatal(err)
		}
		close(release)
		<-wrote
	default:
		close(release)
		if err := <-wrote; err != nil {
			t.Fatalf("the write in flight at Close: %v", err)
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if victim, err = fs.Create("/v"); err != nil {
			t.Fatal(err)
		}
		if _, err := victim.Write(victimData); err != nil {
			t.Fatal(err)
		}
	}
	defer victim.Close()
	got := make([]byte, len(victimData))
	if _, err := victim.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, victimData) {
		t.Fatalf("the next file reads %q..., want %q...: a write to a closed handle landed in it", got[:12], victimData[:12])
	}
	if _, err := f.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Write after Close: %v, want os.ErrClosed", err)
	}
}
