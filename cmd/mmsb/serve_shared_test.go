package main

import (
	"context"
	"errors"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/client"
)

// TestServeShared: `mmsb serve --shared` puts the pages in shared memory;
// a Go Reader in this process reads what a client committed through the
// server, with the region's files owner-only, and sees the clean shutdown
// as the writer gone.
func TestServeShared(t *testing.T) {
	dir, shm := t.TempDir(), shmDirForTest(t)
	var stdout, stderr syncText
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--shared", "--shm-dir", shm}, &stdout, &stderr)
	}()
	addrRe := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; {
		if m := addrRe.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	c, err := client.New("http://"+addr, client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()
	id, err := c.CreatePage(bg, mmsb.PageSpec{Size: 16})
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Commit(bg, []mmsb.Delta{mmsb.Write(id, 0, []byte("via the server"))})
	if err != nil {
		t.Fatal(err)
	}

	rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shm})
	if err != nil {
		t.Fatalf("no shared region behind serve --shared: %v\n%s", err, stderr.String())
	}
	defer rd.Close()
	if l := rd.LastLSN(); l < info.LastLSN {
		t.Fatalf("reader's committed LSN %d < the commit's %d", l, info.LastLSN)
	}
	b, ep, lsn, err := rd.ReadPage(id, nil)
	if err != nil || string(b[:14]) != "via the server" || ep != 1 || lsn != info.LastLSN {
		t.Fatalf("reader: %q epoch %d lsn %d %v (commit LSN %d)", b, ep, lsn, err, info.LastLSN)
	}
	region, err := mmsb.SharedRegionPath(dir, shm)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(region + "/header"); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("region header: %v %v (want mode 0600)", st, err)
	}

	cancel() // what SIGTERM does
	select {
	case code := <-exited:
		if code != exitOK {
			t.Fatalf("serve exited %d:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, _, _, err := rd.ReadPage(id, nil); !errors.Is(err, mmsb.ErrWriterGone) {
		t.Fatalf("after shutdown: %v, want ErrWriterGone", err)
	}
}

// TestServeSharedFlags: --shared needs a directory, and the shared-memory
// flags need --shared.
func TestServeSharedFlags(t *testing.T) {
	runCLI(t, "serve", "--shared").mustCode(t, exitUsage)
	runCLI(t, "serve", "--dir", t.TempDir(), "--shm-dir", "/dev/shm").mustCode(t, exitUsage)
	runCLI(t, "serve", "--dir", t.TempDir(), "--shm-group").mustCode(t, exitUsage)
}
