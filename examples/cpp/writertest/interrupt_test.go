package writertest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
)

// TestWriterInterrupted: Ctrl-C (SIGINT) stops `cpp-writer DIR --shared`
// between two commits with status 130 and one line saying so, and closes
// the bus: its shared-memory region is removed, and every batch committed
// before the signal is stored (the counters sum to the increments, one per
// LSN after the 8 page creations). Before, the signal killed the writer
// outright ("signal: interrupt") and left its region in /dev/shm. The
// signal is sent once a reader has seen the writer past its first 100
// batches, in the paced ones (100 ms apart), so the test waits on the
// program, not a clock.
func TestWriterInterrupted(t *testing.T) {
	writer := buildWriter(t)
	dir := filepath.Join(t.TempDir(), "counters")
	region, err := mmsb.SharedRegionPath(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	// A writer killed by the signal (or the test failing before it ends)
	// leaves the region in /dev/shm: not this test's to leave behind.
	t.Cleanup(func() { _ = os.RemoveAll(region) })
	var out bytes.Buffer
	cmd := exec.Command(writer, dir, "--shared")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const paced = 8 + 100*1000 // the LSN after the 100 unpaced batches
	var rd *mmsb.Reader
	for {
		r, err := mmsb.OpenReader(dir, nil)
		if err == nil {
			rd = r
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no shared region to read within 30 s: %v; output:\n%s", err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for lsn := rd.LastLSN(); lsn < paced; {
		var err error
		if lsn, err = rd.Wait(ctx, lsn); err != nil {
			_ = rd.Close()
			t.Fatalf("waiting for LSN %d: %v; output:\n%s", paced, err, out.String())
		}
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
		killed = true
	case <-ctx.Done():
		t.Fatalf("cpp-writer still running 30 s after SIGINT; output:\n%s", out.String())
	}
	status := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		status = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	text := out.String()
	if status != 130 || !strings.Contains(text, "cpp-writer: interrupted after") {
		t.Fatalf("cpp-writer after SIGINT: %v (status %d), want status 130 and \"cpp-writer: interrupted after\"; output:\n%s", err, status, text)
	}

	if _, err := os.Stat(region); !os.IsNotExist(err) {
		t.Errorf("shared region %s after the interrupted run: %v, want it removed", region, err)
	}
	bus, err := mmsb.Open(dir, nil)
	if err != nil {
		t.Fatalf("reopening the interrupted writer's bus: %v", err)
	}
	defer func() { _ = bus.Close() }()
	last := uint64(bus.LastLSN())
	var sum uint64
	for id := mmsb.PageID(1); id <= 8; id++ {
		b, _, err := bus.ReadPage(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off+8 <= len(b); off += 8 {
			sum += binary.LittleEndian.Uint64(b[off:])
		}
	}
	if last < paced || last%1000 != 8 || sum != last-8 {
		t.Fatalf("bus after the interrupted run: last LSN %d, counters sum %d; want whole batches past LSN %d summing to LSN-8", last, sum, paced)
	}
}
