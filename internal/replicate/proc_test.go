package replicate

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mmsb-go/mmsb"
)

// Cross-process failover tests re-execute the test binary as a leader
// child (TestReplicaChild with MMSB_REPL_CHILD set) connected to a cluster
// the parent runs, so that the parent can SIGKILL or SIGSTOP it. The parent
// reads the child's report lines; a child that runs no test prints none,
// and the parent fails instead of passing silently
// (TestReplicaChildMustRun).

const (
	envReplChild = "MMSB_REPL_CHILD"
	envReplURL   = "MMSB_REPL_URL"
	envReplDir   = "MMSB_REPL_DIR"
	// envReplNoLease: the child ignores its lease once leading (paused
	// right after its last lease check): only the fence can stop it.
	envReplNoLease = "MMSB_REPL_NO_LEASE"
)

// childPages are the pages the child creates (explicit IDs, so the parent
// knows them).
const childPages = 64

type replChild struct {
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	out   strings.Builder
	// stderr keeps the head of the child's standard error: a panic or a
	// runtime error is printed there.
	stderr headWriter
	// exited is closed once the child exited and its output was read;
	// waitErr is Wait's answer then.
	exited  chan struct{}
	waitErr error
}

// headWriter keeps the first 16 KiB written to it.
type headWriter struct {
	mu  sync.Mutex
	buf []byte
}

func (w *headWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if room := 16<<10 - len(w.buf); room > 0 {
		w.buf = append(w.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (w *headWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.buf)
}

func startReplChild(t *testing.T, run, url, dir string, env ...string) *replChild {
	t.Helper()
	c := &replChild{lines: make(chan string, 1<<16), exited: make(chan struct{})}
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), envReplChild+"=leader", envReplURL+"="+url, envReplDir+"="+dir), env...)
	cmd.Stderr = &c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.cmd = cmd
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout) // a line too long for the scanner
		c.waitErr = cmd.Wait()
		close(c.exited)
		close(c.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Kill)
	})
	return c
}

// errChildCrashed: the child ended by a panic or a runtime error, or
// with an exit status other than the kill the test sent.
var errChildCrashed = errors.New("the child process crashed")

// signal sends sig to the child. It reports false, with a nil error, when
// the child had already exited on its own (os.ErrProcessDone: a leader
// fenced or stepped down may end), and errChildCrashed when it ended by a
// panic or a runtime error: what the child did before it ended is still
// checked by the caller, from its output and the stream.
func (c *replChild) signal(sig os.Signal) (bool, error) {
	err := c.cmd.Process.Signal(sig)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, os.ErrProcessDone) {
		return false, fmt.Errorf("signal %v to the child: %w", sig, err)
	}
	return false, c.crashed()
}

// crashed waits until the child's exit is known and reports
// errChildCrashed if it ended by a panic or a runtime error.
func (c *replChild) crashed() error {
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the child is gone but its output did not end:\n%s", c.tail())
	}
	if se := c.stderr.String(); strings.Contains(se, "panic:") || strings.Contains(se, "fatal error:") {
		return fmt.Errorf("%w (exit: %s):\n%s", errChildCrashed, exitText(c.waitErr), se)
	}
	return nil
}

// expect waits for a line starting with prefix; the lines before it are
// passed to seen. It fails when the child's output ends first.
func (c *replChild) expect(prefix string, within time.Duration, seen func(string)) (string, error) {
	timeout := time.After(within)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return "", fmt.Errorf("child output ended before %q:\n%s", prefix, c.tail())
			}
			c.note(l)
			if seen != nil {
				seen(l)
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-timeout:
			return "", fmt.Errorf("no %q from child within %v:\n%s", prefix, within, c.tail())
		}
	}
}

func (c *replChild) note(l string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.out.Len() < 1<<16 {
		c.out.WriteString(l + "\n")
	}
}

func (c *replChild) tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.out.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	if se := c.stderr.String(); se != "" {
		s += "stderr:\n" + se[:min(len(se), 4000)]
	}
	return s
}

// TestReplicaChild is the helper: a node that leads and commits until it
// is killed, printing LEADER, "ACK first last" per acknowledged replicated
// commit, "FAIL <error>" when a commit fails and "ROLE follower" when it
// steps down.
func TestReplicaChild(t *testing.T) {
	switch os.Getenv(envReplChild) {
	case "":
		t.Skip("helper process for the failover tests")
	case "panic":
		panic("a child asked to crash (TestReplicaChildExit)")
	case "sleep":
		time.Sleep(time.Hour) // until the parent kills it (TestReplicaChildExit)
	}
	nc, err := nats.Connect(os.Getenv(envReplURL), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		fmt.Println("FAIL", err)
		return
	}
	var mu sync.Mutex
	print := func(format string, args ...any) {
		mu.Lock()
		fmt.Printf(format+"\n", args...)
		mu.Unlock()
	}
	ctx := context.Background()
	n, err := NewNode(ctx, NodeConfig{Config: testConfig(3), ID: "child", Dir: os.Getenv(envReplDir), Conn: nc,
		noLeaseCheck: os.Getenv(envReplNoLease) != "",
		OnRole: func(b *mmsb.Bus, leader bool) {
			if b != nil && !leader {
				print("ROLE follower")
			}
		}})
	if err != nil {
		print("FAIL %v", err)
		return
	}
	go func() { _ = n.Run(ctx) }()
	bus, err := n.WaitLeader(ctx)
	if err != nil {
		print("FAIL %v", err)
		return
	}
	specs := make([]mmsb.PageSpec, childPages)
	for i := range specs {
		specs[i] = mmsb.PageSpec{ID: mmsb.PageID(i + 1), Size: 64}
	}
	if _, err := bus.CreatePages(ctx, specs); err != nil {
		print("FAIL %v", err)
		return
	}
	print("LEADER")
	pages := make([]mmsb.PageID, childPages)
	for i := range pages {
		pages[i] = mmsb.PageID(i + 1)
	}
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				ds := make([]mmsb.Delta, 100)
				for k := range ds {
					ds[k] = mmsb.Write(pages[(w*31+i*7+k)%len(pages)], uint32((k%3)*16), []byte(fmt.Sprintf("c%d-%06d-%07d", w, i, k)[:16]))
				}
				info, err := bus.Commit(ctx, ds)
				if err != nil {
					print("FAIL %v", err)
					return
				}
				print("ACK %d %d", info.FirstLSN, info.LastLSN)
			}
		}(w)
	}
	wg.Wait()
	time.Sleep(time.Hour) // stepped down; the parent kills it
}

// TestReplicaChildMustRun is the negative control of the harness: a child
// started with a -test.run that matches no test never reports LEADER, and
// expect says so.
func TestReplicaChildMustRun(t *testing.T) {
	c := startReplChild(t, "^TestNoSuchTest$", "nats://127.0.0.1:1", t.TempDir())
	if _, err := c.expect("LEADER", 30*time.Second, nil); err == nil {
		t.Fatal("a child that ran no test was taken as leader")
	}
}

// TestReplicaChildExit: signal tells a child that exited on its own (no
// error: what it did is checked from its output and the stream) from one
// that crashed (a panic: errChildCrashed, with its standard error), and a
// live child takes the signal.
func TestReplicaChildExit(t *testing.T) {
	for _, tc := range []struct {
		name, run string
		env       []string
		alive     bool
		err       error
	}{
		{"exits", "^TestNoSuchTest$", nil, false, nil},
		{"panics", "^TestReplicaChild$", []string{envReplChild + "=panic"}, false, errChildCrashed},
		{"runs", "^TestReplicaChild$", []string{envReplChild + "=sleep"}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startReplChild(t, tc.run, "nats://127.0.0.1:1", t.TempDir(), tc.env...)
			if !tc.alive {
				if _, err := c.expect("LEADER", time.Minute, nil); err == nil {
					t.Fatal("the child reported LEADER")
				}
				<-c.exited
			}
			alive, err := c.signal(syscall.SIGCONT)
			if alive != tc.alive || !errors.Is(err, tc.err) || (err == nil) != (tc.err == nil) {
				t.Fatalf("signal: %v, %v; want %v, %v", alive, err, tc.alive, tc.err)
			}
			if tc.err != nil && !strings.Contains(err.Error(), "asked to crash") {
				t.Fatalf("the crash report does not quote the child's standard error: %v", err)
			}
		})
	}
}

// exitText describes a child's Wait error for a report.
func exitText(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}
