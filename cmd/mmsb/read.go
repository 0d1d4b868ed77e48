package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/vfs"
)

func init() { registerCommand(func(a *app) *cobra.Command { return a.readCmd() }) }

func (a *app) readCmd() *cobra.Command {
	var page, atLSN uint64
	var asHex, asF64 bool
	var shmDir string
	cmd := &cobra.Command{
		Use:   "read DIR --page N",
		Short: "Print one page, from the writer's shared memory when it runs in shared mode",
		Long: `read prints one page's epoch, last-write LSN and bytes (a hex dump, or
--f64: one little-endian float64 per 8 bytes).

When a writer serves the bus with Options.Shared, the page is read from its
shared memory (a consistent copy of the latest committed state, without
touching the writer). Otherwise, or with --at-lsn, the state is rebuilt from
the files (newest checkpoint plus the log, up to --at-lsn), without taking
the write lock. Regions are looked for in --shm-dir (default /dev/shm): a
writer with another Options.SharedDir is read from its shared memory only
with --shm-dir naming that directory; without it, read falls back to the
files, which hold what the writer's log has made durable. A writer that goes away between finding its region and the
read sends read to the files too; a region superseded by a newer writer is
opened again (the newer writer's, up to 5 times).`,
		Example: `  mmsb read ./data --page 3
  mmsb read ./data --page 3 --f64
  mmsb read ./data --page 3 --at-lsn 5000`,
		Args: dirArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if page == 0 {
				return usageErr("--page N (N >= 1) is required")
			}
			if asHex && asF64 {
				return usageErr("--hex and --f64 exclude each other")
			}
			if atLSN == 0 && cmd.Flags().Changed("at-lsn") {
				// 0 is also the flag's "not given": --at-lsn 0 printed the
				// latest state (from shared memory when a writer ran),
				// where the state at LSN 0, before every operation, holds
				// no page (Bus.ReadAt refuses LSN 0 too).
				return usageErr("--at-lsn 0: LSN 0 is before every operation and holds no page; LSNs start at 1 (omit --at-lsn for the latest state)")
			}
			if shmDir != "" {
				// --at-lsn reads the files: the shared memory holds only
				// the latest state, and --shm-dir was ignored.
				if atLSN != 0 {
					return usageErr("--shm-dir and --at-lsn exclude each other (--at-lsn rebuilds the page from the files)")
				}
				// A missing --shm-dir read the page from the files, as
				// if no writer ran, even beside one (exit 0).
				if err := existingDirFlag("--shm-dir", shmDir); err != nil {
					return err
				}
			}
			return a.runRead(cmd.Context(), args[0], mmsb.PageID(page), mmsb.LSN(atLSN), asF64, shmDir)
		},
	}
	cmd.Flags().Uint64Var(&page, "page", 0, "page ID to print")
	cmd.Flags().BoolVar(&asHex, "hex", false, "print the bytes as a hex dump (the default)")
	cmd.Flags().BoolVar(&asF64, "f64", false, "print the bytes as little-endian float64 values")
	cmd.Flags().Uint64Var(&atLSN, "at-lsn", 0, "read the page as of this LSN, 1 or more (from the files)")
	atLeastOne(cmd.Flags(), "page", "at-lsn")
	cmd.Flags().StringVar(&shmDir, "shm-dir", "", "directory of shared regions (default "+mmsb.DefaultSharedDir+")")
	return cmd
}

// filesFS is the filesystem inspect, graph and read (from the files) read
// DIR through: the operating system's (a variable so that tests can change
// the files under a replay, as a writer running beside them does).
var filesFS vfs.FS = vfs.Default

// openReader is mmsb.OpenReader (a variable so that tests can replace or
// stop the writer between the open and the read).
var openReader = mmsb.OpenReader

// sharedAttempts bounds how often read and watch open the writer's region
// while it is superseded (ErrStale): a newer writer took the bus over
// between finding the region and mapping it, and publishes its own region
// once it has recovered.
const sharedAttempts = 5

// sharedRetryPause separates those opens.
const sharedRetryPause = 10 * time.Millisecond

// sharedPage is one page read from the writer's shared memory.
type sharedPage struct {
	data   []byte
	epoch  mmsb.Epoch
	lsn    mmsb.LSN
	source string
}

// readShared reads page id from the shared memory of the writer of dir.
// ok is false where the files must be read instead: no writer runs in
// shared mode, or the one found went away (closed, killed or replaced)
// between the open and the read, or its region stayed superseded for
// sharedAttempts opens. Before, such a writer failed the read
// ("shared-memory writer gone", "shared region superseded by a newer
// writer"), though the files held the page.
func readShared(dir, shmDir string, id mmsb.PageID) (p sharedPage, ok bool, err error) {
	for attempt := 1; ; attempt++ {
		var rd *mmsb.Reader
		rd, err = openReader(dir, &mmsb.ReaderOptions{SharedDir: shmDir})
		if err == nil {
			p.data, p.epoch, p.lsn, err = rd.ReadPage(id, nil)
			if err == nil {
				p.source = fmt.Sprintf("shared memory (writer pid %d, committed LSN %d)", rd.Stats().WriterPID, rd.LastLSN())
			}
			_ = rd.Close() // read-only mappings: nothing to lose
			if err == nil {
				return p, true, nil
			}
		}
		switch {
		case errors.Is(err, mmsb.ErrStale) && attempt < sharedAttempts:
			// The newer writer's region: open it.
			time.Sleep(sharedRetryPause)
		case errors.Is(err, mmsb.ErrWriterGone), errors.Is(err, mmsb.ErrStale):
			return sharedPage{}, false, nil
		default:
			return sharedPage{}, false, err
		}
	}
}

func (a *app) runRead(ctx context.Context, dir string, id mmsb.PageID, atLSN mmsb.LSN, asF64 bool, shmDir string) error {
	if err := requireDataDir(dir); err != nil {
		return err
	}
	// Another program's directory with a wal/ (a Prometheus one) read
	// as an empty bus: "page not found: page 1", as if a bus were there.
	if err := requireBusFiles(dir, ""); err != nil {
		return err
	}
	var data []byte
	var epoch mmsb.Epoch
	var lsn mmsb.LSN
	var source string
	if atLSN == 0 {
		p, ok, err := readShared(dir, shmDir, id)
		if err != nil {
			return err
		}
		if ok {
			data, epoch, lsn, source = p.data, p.epoch, p.lsn, p.source
		}
	}
	if source == "" {
		// Beside a running writer whose checkpoints remove old
		// checkpoints and segments, a replay that listed them before the
		// removal failed ("no such file or directory"): it runs again
		// when the files changed, as check's and replay's do.
		st, err := replayBesideWriter(ctx, filesFS, dir, mmsb.ReplayTarget{ToLSN: atLSN}, nil)
		if err != nil {
			return interrupted(ctx, "read of "+dir, replayFailed(dir, err))
		}
		defer st.Close() //nolint:errcheck // a detached replay: nothing written through it
		a.noteMissingLog(dir)
		// It passed over a damaged checkpoint in silence, where graph
		// and replay name it (TestReadCommandsNameDamagedCheckpoint).
		a.noteSkippedCheckpoints(st.Recovery(), "run `mmsb check "+termText(dir)+"`")
		info, err := st.Page(id)
		if err != nil {
			return err
		}
		if data, epoch, err = st.ReadPage(id, nil); err != nil {
			return err
		}
		lsn = info.LastLSN
		source = fmt.Sprintf("files (state at LSN %d)", st.LastLSN())
	}
	fmt.Fprintf(a.stdout, "page %d  size %d  epoch %d  last LSN %d  source %s\n", id, len(data), epoch, lsn, source)
	if asF64 {
		for i := 0; i+8 <= len(data); i += 8 {
			fmt.Fprintf(a.stdout, "%6d  %v\n", i, math.Float64frombits(binary.LittleEndian.Uint64(data[i:])))
		}
		// A size that is not a multiple of 8 leaves bytes no float64
		// holds: show them rather than drop them unseen.
		if tail := len(data) % 8; tail != 0 {
			fmt.Fprintf(a.stdout, "%6d  %s, not a float64: % x\n", len(data)-tail, counted(tail, "trailing byte", "trailing bytes"), data[len(data)-tail:])
		}
		return nil
	}
	_, err := fmt.Fprint(a.stdout, hex.Dump(data))
	return err
}
