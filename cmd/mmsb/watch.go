package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
)

func init() { registerCommand(func(a *app) *cobra.Command { return a.watchCmd() }) }

func (a *app) watchCmd() *cobra.Command {
	var pages []uint
	var count int
	var shmDir string
	cmd := &cobra.Command{
		Use:   "watch DIR [--page N]...",
		Short: "Print each change to pages live, from the writer's shared memory",
		Long: `watch attaches to the shared memory of a writer running with
Options.Shared and prints one line per page change: the page's last-write
LSN, the page, its epoch and how many bytes changed since the last line for
that page. Without --page it watches every page (re-listed after each
commit). Changes are sampled at each committed LSN the reader sees, so
several writes to one page between two looks print as one line. A --page
that does not exist yet is waited for (stderr says so once) and printed
when it is created.

It stops after --count lines (0: until interrupted) and fails when the
writer goes away. Without --count, SIGINT or SIGTERM ends it with exit status
0; with --count, before that many lines, with exit status 1.`,
		Example: `  mmsb watch ./data --page 3 --page 4
  mmsb watch ./data --count 10`,
		Args: dirArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 0 {
				return usageErr("--count must be >= 0")
			}
			ids := make([]mmsb.PageID, 0, len(pages))
			for _, p := range pages {
				if p == 0 {
					return usageErr("--page must be >= 1")
				}
				ids = append(ids, mmsb.PageID(p))
			}
			// A --shm-dir that is missing or a file failed as if the
			// writer had gone (exit 1, "shared-memory writer gone").
			if shmDir != "" {
				if err := existingDirFlag("--shm-dir", shmDir); err != nil {
					return err
				}
			}
			return a.runWatch(cmd.Context(), args[0], ids, count, shmDir)
		},
	}
	cmd.Flags().UintSliceVar(&pages, "page", nil, "page ID to watch (repeatable; default every page)")
	atLeastOne(cmd.Flags(), "page")
	intVar(cmd.Flags(), &count, "count", 0, "stop after this many change lines (0: never)")
	cmd.Flags().StringVar(&shmDir, "shm-dir", "", "directory of shared regions (default "+mmsb.DefaultSharedDir+")")
	return cmd
}

type watched struct {
	data  []byte
	epoch mmsb.Epoch
	gone  bool
}

func (a *app) runWatch(ctx context.Context, dir string, ids []mmsb.PageID, count int, shmDir string) error {
	if err := requireDataDir(dir); err != nil {
		return err
	}
	rd, err := openReader(dir, &mmsb.ReaderOptions{SharedDir: shmDir})
	// A superseded region (ErrStale): a newer writer took the bus over
	// between finding the region and mapping it. Watch failed there
	// ("shared region superseded by a newer writer") though the newer
	// writer was about to publish its own region: it opens again, up to
	// sharedAttempts times in all. After ErrStale, ErrWriterGone is that
	// writer between removing the old region and publishing its own.
	for attempt := 1; attempt < sharedAttempts; attempt++ {
		if !errors.Is(err, mmsb.ErrStale) && (attempt == 1 || !errors.Is(err, mmsb.ErrWriterGone)) {
			break
		}
		time.Sleep(sharedRetryPause)
		rd, err = openReader(dir, &mmsb.ReaderOptions{SharedDir: shmDir})
	}
	if errors.Is(err, mmsb.ErrWriterGone) {
		// Say how to get what watch needs: a writer in plain mode (or
		// none) publishes no region, and a user who started "mmsb serve
		// --dir DIR" cannot tell that from "writer gone" alone.
		//
		// A writer with another Options.SharedDir publishes its region
		// where watch does not look without --shm-dir: it was told to
		// start the shared writer it had started.
		where := "it looked in " + mmsb.DefaultSharedDir + ": a writer with another Options.SharedDir (serve --shm-dir) needs --shm-dir naming that directory"
		if shmDir != "" {
			where = "it looked in --shm-dir " + termText(shmDir) + ": give the writer's Options.SharedDir"
		}
		return fmt.Errorf("%w (watch follows a writer running in shared mode: mmsb serve --dir %s --shared, or Options.Shared; %s)", err, dir, where)
	}
	if err != nil {
		return err
	}
	defer rd.Close() //nolint:errcheck // read-only mappings: nothing to lose
	all := len(ids) == 0
	state := map[mmsb.PageID]*watched{}
	printed := 0
	// look reads every watched page and prints those whose epoch moved;
	// first only records the initial state.
	look := func(first bool) (bool, error) {
		if all {
			if ids, err = rd.Pages(); err != nil {
				return false, err
			}
		}
		for _, id := range ids {
			w := state[id]
			if w == nil {
				w = &watched{}
				state[id] = w
				if !first && all {
					w.epoch = ^mmsb.Epoch(0) // a page created after the start: print it
				}
			}
			data, epoch, lsn, err := rd.ReadPage(id, nil)
			if errors.Is(err, mmsb.ErrPageNotFound) {
				if !w.gone && !first {
					fmt.Fprintf(a.stdout, "page=%d freed\n", id)
					printed++
				}
				w.gone = true
				continue
			} else if err != nil {
				return false, err
			}
			if !first && (epoch != w.epoch || w.gone) {
				fmt.Fprintf(a.stdout, "lsn=%d page=%d epoch=%d changed=%d\n", lsn, id, epoch, changedBytes(w.data, data))
				printed++
			}
			w.data, w.epoch, w.gone = data, epoch, false
			if count > 0 && printed >= count {
				return true, nil
			}
		}
		return false, nil
	}
	if all {
		slices.Sort(ids)
	}
	// The LSN is taken before the first look: a commit between the look
	// and a later LastLSN was counted as seen and never printed, and a
	// watch waiting for that one change waited for ever (a page created
	// just after the missing-page note: TestSharedWatchSeesCommitAfterFirstLook).
	last := rd.LastLSN()
	if _, err := look(true); err != nil {
		return err
	}
	if !all {
		// A page asked for that does not exist is waited for (a watch
		// started before its writer creates the pages is a normal use)
		// and printed once created, but it waited in silence, as for a
		// page that does not change (TestSharedWatchSaysPageMissing).
		// Several are said in one note, each once: one line a page
		// buried the output of a watch of many
		// (TestSharedWatchSaysMissingPagesInOneNote).
		noted := map[mmsb.PageID]bool{}
		var missing []string
		for _, id := range ids {
			if state[id].gone && !noted[id] {
				noted[id] = true
				missing = append(missing, strconv.FormatUint(uint64(id), 10))
			}
		}
		switch len(missing) {
		case 0:
		case 1:
			fmt.Fprintf(a.stderr, "note: page %s does not exist (yet): waiting for it to be created\n", missing[0])
		default:
			fmt.Fprintf(a.stderr, "note: pages %s do not exist (yet): waiting for them to be created\n", strings.Join(missing, ", "))
		}
	}
	for {
		l, err := rd.Wait(ctx, last)
		if err != nil && ctx.Err() != nil {
			// SIGINT/SIGTERM: the normal end of a watch without --count;
			// with one, fewer lines than asked for were printed.
			if count == 0 {
				return nil
			}
			return fmt.Errorf("interrupted after %d of %d lines: %w", printed, count, err)
		}
		if err != nil {
			return err
		}
		last = l
		if done, err := look(false); err != nil || done {
			return err
		}
	}
}

// changedBytes counts the bytes that differ (size changes count in full).
func changedBytes(a, b []byte) int {
	n := max(len(a), len(b)) - min(len(a), len(b))
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}
