package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/mmsb-go/mmsb/client"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/replicate"
	"github.com/mmsb-go/mmsb/internal/testutil"
	"github.com/mmsb-go/mmsb/vfs"
)

// Setup shared by the command tests: an embedded NATS server, a command
// run in the background until a line or an HTTP answer comes, and a bus
// directory whose newest checkpoint is damaged.

// startNATS starts one embedded JetStream server (name: its cluster's
// name), shut down when the test ends (after the commands started later,
// whose stops are cleanups too, have stopped).
func startNATS(t *testing.T, name string) *replicate.Cluster {
	t.Helper()
	c, err := replicate.StartCluster(name, []string{t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Shutdown)
	return c
}

// bgCmd is an mmsb command running in the background (startCmd).
type bgCmd struct {
	t              testing.TB
	args           []string
	stdout, stderr syncText
	cancel         context.CancelFunc
	exited         chan int
	once           sync.Once
	code           int
}

// startCmd runs `mmsb args...` until stop or the test's end.
func startCmd(t *testing.T, args ...string) *bgCmd {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &bgCmd{t: t, args: args, cancel: cancel, exited: make(chan int, 1)}
	go func() { c.exited <- run(ctx, args, &c.stdout, &c.stderr) }()
	t.Cleanup(func() { c.stop() })
	return c
}

// stop ends the command (as an interrupt does) and returns its exit
// code; later calls return the same code.
func (c *bgCmd) stop() int {
	c.once.Do(func() {
		c.cancel()
		c.code = testutil.Recv(c.t, c.exited, fmt.Sprintf("mmsb %v did not exit after its interrupt", c.args))
	})
	return c.code
}

// waitOutput waits until done holds (polled every 20 ms) or 30 s have
// passed: a caller's checks then say what was missing. A command that
// exits first fails the test.
func (c *bgCmd) waitOutput(t *testing.T, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !done() && time.Now().Before(deadline); {
		select {
		case code := <-c.exited:
			c.exited <- code
			t.Fatalf("mmsb %v exited %d early:\n%s", c.args, code, c.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// servingRe matches the line serve logs once it serves (msg=serving),
// capturing the address it listens on.
var servingRe = regexp.MustCompile(`msg=serving addr=(127\.0\.0\.1:\d+)`)

// servingClient waits (as waitOutput) until the serve command c logs that
// it serves, and returns a client of it that never retries (a test sees
// each answer as it came).
func (c *bgCmd) servingClient(t *testing.T) *client.Client {
	t.Helper()
	c.waitOutput(t, func() bool { return servingRe.MatchString(c.stderr.String()) })
	m := servingRe.FindStringSubmatch(c.stderr.String())
	if m == nil {
		t.Fatalf("serve did not start:\n%s", c.stderr.String())
	}
	cl, err := client.New("http://"+m[1], client.WithRetries(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// getAnswer is the status and body a GET of url answers (err: none came).
func getAnswer(url string) (code int, body string, err error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitAnswer asks GET http://addr+path every 50 ms until ok accepts the
// answer, and returns it. After 30 s it fails the test, saying what it
// waited for (want), the last answer and log (the server's stderr).
func waitAnswer(t *testing.T, addr, path, want string, log *syncText, ok func(code int, body string) bool) (int, string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		code, body, err := getAnswer("http://" + addr + path)
		if err == nil && ok(code, body) {
			return code, body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s never answered %s (last: %d %v %.300q)\n%s", path, want, code, err, body, log.String())
		}
	}
}

// startFollowOnlyServe starts 'serve --replicate --follow-only' of bus on
// c, in a new directory, and returns its address, its log and its stop.
func startFollowOnlyServe(t *testing.T, c *replicate.Cluster, bus string) (string, *syncText, func()) {
	t.Helper()
	return startServe(t, "--replicate", "--follow-only", "--nats", c.URL(), "--replicate-bus", bus,
		"--dir", filepath.Join(t.TempDir(), "f"), "--addr", "127.0.0.1:0")
}

// damagedNewestCheckpoint makes a closed bus directory with two
// checkpoints and records after the newest, whose middle byte is then
// flipped (it no longer loads), and returns the directory and that
// checkpoint's path.
func damagedNewestCheckpoint(t *testing.T) (dir, newest string) {
	t.Helper()
	dir, bus, commit := openWriter(t)
	if _, err := bus.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	commit(2)
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	ckpts, err := checkpoint.List(vfs.Default, filepath.Join(dir, "checkpoints"))
	if err != nil || len(ckpts) != 2 {
		t.Fatalf("want two checkpoints, got %v (%v)", ckpts, err)
	}
	flipByte(t, ckpts[0].Path, ckpts[0].Size/2) // List: newest first
	return dir, ckpts[0].Path
}

// tearLastRecord cuts the last 5 bytes of dir's last log segment (its
// last record torn, as by a crash) and returns the segment's path.
func tearLastRecord(t *testing.T, dir string) string {
	t.Helper()
	segs := segmentFiles(t, dir)
	last := segs[len(segs)-1]
	st, err := os.Stat(last)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(last, st.Size()-5); err != nil {
		t.Fatal(err)
	}
	return last
}
