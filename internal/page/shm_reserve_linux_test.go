//go:build linux

package page

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mmsb-go/mmsb/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestReserveFileInterrupted: a fallocate that a signal interrupts
// (EINTR; a tmpfs gives back what that call allocated) is tried again, in
// pieces. It failed the create that needed the room as ErrNoSpace. The
// seam interrupts every call longer than reservePiece (one that a signal
// period always cuts short, as a CPU profile's does a large chunk's) and
// every other call of the rest. Control: without the pieces, the whole
// range is interrupted at every try.
func TestReserveFileInterrupted(t *testing.T) {
	d := testutil.ShmTempDir(t, "", "mmsb-page-test-")
	f, err := os.Create(filepath.Join(d, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls, interrupted := 0, 0
	fallocate = func(fd int, mode uint32, off, n int64) error {
		calls++
		if calls > 100 {
			return unix.EIO // never done
		}
		if n > reservePiece || calls%2 == 1 {
			interrupted++
			return unix.EINTR
		}
		return unix.Fallocate(fd, mode, off, n)
	}
	defer func() { fallocate = unix.Fallocate }()
	const size = 3*reservePiece + 4096
	if err := reserveFile(f, 0, size); err != nil {
		t.Fatalf("reserveFile of %d bytes with interrupted fallocates: %v", size, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 < size || interrupted == 0 {
		t.Errorf("reserveFile of %d bytes: %d allocated after %d interrupted calls", size, st.Blocks*512, interrupted)
	}
}
