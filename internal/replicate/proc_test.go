package replicate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
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
}

func startReplChild(t *testing.T, run, url, dir string, env ...string) *replChild {
	t.Helper()
	c := &replChild{lines: make(chan string, 1<<16)}
	cmd := exec.Command(os.Args[0], "-test.run="+run, "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), envReplChild+"=leader", envReplURL+"="+url, envReplDir+"="+dir), env...)
	cmd.Stderr = io.Discard
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
		_ = cmd.Wait()
		close(c.lines)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Kill)
	})
	return c
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
	return s
}

// TestReplicaChild is the helper: a node that leads and commits until it
// is killed, printing LEADER, "ACK first last" per acknowledged replicated
// commit, "FAIL <error>" when a commit fails and "ROLE follower" when it
// steps down.
func TestReplicaChild(t *testing.T) {
	if os.Getenv(envReplChild) == "" {
		t.Skip("helper process for the failover tests")
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
