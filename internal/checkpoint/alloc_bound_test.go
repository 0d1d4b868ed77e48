package checkpoint

import (
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb/corruption"
	"github.com/mmsb-go/mmsb/vfs"
)

// TestReaderRefusesLengthBeforeAllocating: a frame whose length field
// claims the most a record may hold (256 MiB) in a file of a few dozen
// bytes is refused as truncated, naming the length, before its payload
// buffer is taken: the reader allocates its read buffer and no more.
func TestReaderRefusesLengthBeforeAllocating(t *testing.T) {
	const lsn = 77
	valid := docCkptFile(lsn, []byte{1}, [][]byte{[]byte("state")})
	b := append([]byte{}, valid[:HeaderSize]...)
	frame := docCkptFrame(1, []byte("state"))
	binary.LittleEndian.PutUint32(frame, MaxRecordBytes)
	b = append(b, frame...)
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/ck"); err != nil {
		t.Fatal(err)
	}
	path := "/ck/" + FileName(lsn)
	wf, err := fs.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wf.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := wf.Close(); err != nil {
		t.Fatal(err)
	}
	const want = "truncated: record length 268435456, 5 bytes left"
	var ce *corruption.Error
	if err := Verify(fs, path); !errors.As(err, &ce) || !strings.Contains(ce.Reason, want) {
		t.Fatalf("Verify: %v, want corruption saying %q", err, want)
	}
	const runs = 16
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		_ = Verify(fs, path)
	}
	runtime.ReadMemStats(&after)
	// The 256 KiB read buffer and the error; the claimed length is 1,000
	// times more.
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 1<<20 {
		t.Fatalf("a refused read allocated %d bytes", per)
	}
}
