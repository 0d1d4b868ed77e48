package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
)

// `mmsb bench --shared --readers N` measures reader processes: each is
// this executable re-run as the hidden `bench-reader` command, on the
// bus's shared region, copying random pages with Reader.ReadPage while the
// parent commits. The protocol on the child's stdin and stdout is one line
// each way: the child prints "ready" once attached, the parent writes "go"
// when the commit load starts and closes stdin when it ends, and the child
// prints one JSON object with what it did. A child that exits early, never
// says ready, or reports no reads fails the bench: a reader that ran
// nothing must not look like a fast one.

func init() { registerCommand(func(a *app) *cobra.Command { return a.benchReaderCmd() }) }

// benchReaderResult is the child's report.
type benchReaderResult struct {
	Copies  uint64  `json:"copies"`
	Seconds float64 `json:"seconds"`
	Retries uint64  `json:"retries"`
}

// cliSelfEnv marks a process started to run this command line: a test
// binary that re-runs itself as a reader (TestMain) looks for it.
const cliSelfEnv = "MMSB_RUN_CLI"

// readerProc is one running reader process.
type readerProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Reader
	stderr bytes.Buffer
}

// startBenchReaders starts n reader processes on the shared bus in dir,
// reading pages first..first+pages-1, and waits until each is attached.
func startBenchReaders(ctx context.Context, n int, dir, shmDir string, first mmsb.PageID, pages int, seed uint64) ([]*readerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("reader processes: %w", err)
	}
	var procs []*readerProc
	fail := func(err error) ([]*readerProc, error) {
		stopBenchReaders(procs)
		return nil, err
	}
	for i := range n {
		p := &readerProc{}
		args := []string{"bench-reader", "--dir", dir, "--first", fmt.Sprint(first), "--pages", fmt.Sprint(pages), "--seed", fmt.Sprint(seed + uint64(i))}
		if shmDir != "" {
			args = append(args, "--shm-dir", shmDir)
		}
		p.cmd = exec.CommandContext(ctx, exe, args...)
		p.cmd.Env = append(os.Environ(), cliSelfEnv+"=1")
		p.cmd.Stderr = &p.stderr
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			return fail(err)
		}
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			return fail(err)
		}
		p.out = bufio.NewReader(stdout)
		if err := p.cmd.Start(); err != nil {
			return fail(fmt.Errorf("reader process %d: %w", i, err))
		}
		procs = append(procs, p)
		if line, _ := p.out.ReadString('\n'); strings.TrimSpace(line) != "ready" {
			_ = p.cmd.Wait()
			return fail(fmt.Errorf("reader process %d did not attach (it said %q): %s", i, line, strings.TrimSpace(p.stderr.String())))
		}
	}
	return procs, nil
}

// goBenchReaders tells the readers to start reading.
func goBenchReaders(procs []*readerProc) error {
	for i, p := range procs {
		if _, err := io.WriteString(p.stdin, "go\n"); err != nil {
			return fmt.Errorf("reader process %d: %w", i, err)
		}
	}
	return nil
}

// finishBenchReaders stops the readers and collects their reports.
func finishBenchReaders(procs []*readerProc) ([]benchReaderResult, error) {
	for _, p := range procs {
		_ = p.stdin.Close()
	}
	out := make([]benchReaderResult, len(procs))
	var first error
	for i, p := range procs {
		line, _ := p.out.ReadString('\n')
		werr := p.cmd.Wait()
		err := json.Unmarshal([]byte(line), &out[i])
		switch {
		case first != nil:
		case werr != nil:
			first = fmt.Errorf("reader process %d: %w: %s", i, werr, strings.TrimSpace(p.stderr.String()))
		case err != nil:
			first = fmt.Errorf("reader process %d: no report (%w): %q", i, err, line)
		case out[i].Copies == 0:
			first = fmt.Errorf("reader process %d read no page", i)
		}
	}
	return out, first
}

// stopBenchReaders ends reader processes after a failure.
func stopBenchReaders(procs []*readerProc) {
	for _, p := range procs {
		_ = p.stdin.Close()
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

func (a *app) benchReaderCmd() *cobra.Command {
	var dir, shmDir string
	var first, pages int
	var seed uint64
	cmd := &cobra.Command{
		Use:    "bench-reader",
		Short:  "A reader process of 'mmsb bench --shared --readers N' (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pages < 1 || first < 1 {
				return usageErr("--first and --pages must be at least 1")
			}
			rd, err := mmsb.OpenReader(dir, &mmsb.ReaderOptions{SharedDir: shmDir})
			if err != nil {
				return err
			}
			defer rd.Close() //nolint:errcheck // read-only mappings
			fmt.Fprintln(a.stdout, "ready")
			in := bufio.NewReader(os.Stdin)
			if line, _ := in.ReadString('\n'); strings.TrimSpace(line) != "go" {
				return fmt.Errorf("bench-reader: expected go on stdin, got %q", line)
			}
			var stop atomic.Bool
			go func() {
				_, _ = io.Copy(io.Discard, in) // until the parent closes stdin
				stop.Store(true)
			}()
			rng := rand.New(rand.NewPCG(seed, 0x7eade7))
			buf := make([]byte, 0, 64<<10)
			var res benchReaderResult
			start := time.Now()
			for !stop.Load() {
				for range 1024 {
					id := mmsb.PageID(first + rng.IntN(pages))
					if buf, _, _, err = rd.ReadPage(id, buf[:0]); err != nil {
						return fmt.Errorf("bench-reader: page %d: %w", id, err)
					}
				}
				res.Copies += 1024
			}
			res.Seconds = time.Since(start).Seconds()
			res.Retries = rd.Stats().Retries
			return json.NewEncoder(a.stdout).Encode(&res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "bus directory")
	f.StringVar(&shmDir, "shm-dir", "", "directory of shared regions")
	intVar(f, &first, "first", 1, "first page ID")
	intVar(f, &pages, "pages", 0, "pages from --first")
	f.Uint64Var(&seed, "seed", 1, "random seed")
	return cmd
}
