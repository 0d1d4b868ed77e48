package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
	"github.com/mmsb-go/mmsb/vfs"
)

// inspectPage is one page in `mmsb inspect --pages`.
type inspectPage struct {
	ID       uint64 `json:"id"`
	Size     int    `json:"size"`
	Location string `json:"location"`
	Epoch    uint64 `json:"epoch"`
	LastLSN  uint64 `json:"last_lsn"`
	Flags    uint8  `json:"flags"`
	Derived  bool   `json:"derived"`
	Func     string `json:"func,omitempty"` // the recompute function of a derived page
}

// inspectReport is what `mmsb inspect --json` prints.
type inspectReport struct {
	Dir         string         `json:"dir"`
	Segments    []checkSegment `json:"segments"`
	LogProblems int            `json:"log_problems"` // run `mmsb check` for details
	// LogMissing: DIR has no wal/ (so no segment). Open makes an empty log
	// there, or refuses the directory once it holds a checkpoint (the log
	// was removed: Bus.checkLogDir), and so does inspect.
	LogMissing  bool              `json:"log_missing,omitempty"`
	Checkpoints []checkCheckpoint `json:"checkpoints"`
	// CheckpointProblems counts the checkpoints that do not verify
	// (checkpoints[].ok false); `mmsb check` says why.
	CheckpointProblems int           `json:"checkpoint_problems"`
	LastLSN            uint64        `json:"last_lsn"`
	StateHash          string        `json:"state_hash"`
	PageCount          int           `json:"page_count"`
	LogicalBytes       int64         `json:"logical_bytes"`
	Edges              int           `json:"edges"`
	Bindings           int           `json:"bindings"`
	Pages              []inspectPage `json:"pages,omitzero"` // [] with --pages and no page; absent without --pages
}

func (a *app) inspectCmd() *cobra.Command {
	var jsonOut, pages bool
	cmd := &cobra.Command{
		Use:   "inspect DIR",
		Short: "Show the segments, checkpoints, pages and graph counts of a data directory",
		Long: `inspect describes an MMSB data directory: every log segment (file, bytes,
records, LSN range), every checkpoint (file, LSN, size, whether it verifies),
and the state the files hold (last LSN, state hash, page count, logical
bytes, edge and binding counts). --pages lists every page (ID, size, epoch, last-write LSN,
flags, and whether it is derived, with its function).

The state is rebuilt by a replay into memory (newest checkpoint plus the log
tail); inspect never takes the write lock, so it works next to a running
writer and shows what is durable at that moment.`,
		Example: `  mmsb inspect ./data
  mmsb inspect --pages ./data
  mmsb inspect --json ./data | jq .page_count`,
		Args: dirArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runInspect(cmd.Context(), args[0], pages, jsonOut)
		},
	}
	cmd.Flags().BoolVar(&pages, "pages", false, "list every page")
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object instead of text")
	return cmd
}

func (a *app) runInspect(ctx context.Context, dir string, listPages, jsonOut bool) error {
	if err := requireDataDir(dir); err != nil {
		return err
	}
	if err := requireBusFiles(dir, ""); err != nil {
		return err
	}
	fs := filesFS
	rep := &inspectReport{Dir: dir, Segments: []checkSegment{}, Checkpoints: []checkCheckpoint{}}
	wal := filepath.Join(dir, "wal")
	var segs []tlog.SegmentInfo
	var err error
	// A writer running beside inspect removes segments its checkpoints
	// cover: one listed and then removed failed the scan ("no such file
	// or directory"), which read as a missing wal/ (refused once a
	// checkpoint exists). The scan runs again when the names in wal/ and
	// checkpoints/ changed meanwhile, as replayBesideWriter does.
	for attempt := 1; ; attempt++ {
		before := dirFileNames(fs, dir)
		rep.LogProblems = 0
		segs, err = tlog.Check(fs, wal, nil, func(tlog.Problem) { rep.LogProblems++ })
		if (err == nil && rep.LogProblems == 0) || attempt == replayAttempts || dirFileNames(fs, dir) == before {
			break
		}
	}
	switch {
	case vfs.IsNotExist(err) && !fs.Exists(wal):
		// Said, not shown as an empty log: "(none)" and exit 0 read as a
		// bus with nothing logged.
		rep.LogMissing = true
	case err != nil:
		return fmt.Errorf("read log: %w", err)
	}
	for _, s := range segs {
		rep.Segments = append(rep.Segments, checkSegment{File: s.File, Bytes: s.Bytes, Records: s.Records,
			FirstLSN: uint64(s.FirstLSN), LastLSN: uint64(s.LastLSN)})
	}
	// ListFiles, as Open, replay and check list them: a name under a
	// checkpoint's pattern that holds no file (a directory, a FIFO) is
	// no checkpoint, and the raw listing showed it as a damaged one.
	ckpts, notFiles, err := checkpoint.ListFiles(fs, filepath.Join(dir, "checkpoints"))
	if err != nil {
		return fmt.Errorf("list checkpoints: %w", err)
	}
	for _, c := range notFiles {
		fmt.Fprintf(a.stderr, "note: %s\n", c.PassedOver())
	}
	// A bus without a log (log-mode "no log") leaves wal/ empty, and
	// copies drop empty directories: nothing was lost (tlog.CheckRemoved).
	if rep.LogMissing && len(ckpts) > 0 && !writtenWithoutLog(dir) {
		return fmt.Errorf("%s has checkpoints/ but no wal/ (%s is missing): its log was removed, and with it every commit after the newest checkpoint; "+
			"Open refuses this directory, and inspect cannot show its state (%s: the state is then the newest checkpoint's)",
			dir, wal, missingLogAdvice(dir))
	}
	for _, c := range ckpts {
		// ok is what the file says, not an assumption: the replay below
		// passes over a checkpoint that does not load, so a damaged one
		// would otherwise look as good as the one the state came from.
		// Whole frames are not enough: the loader must take the content
		// too (loadCheckpoint, as check does).
		err := checkpoint.Verify(fs, c.Path)
		if err == nil {
			err = loadCheckpoint(ctx, fs, dir, c, false)
		}
		if err != nil && removedSinceListed(fs, filepath.Join(dir, "checkpoints"), c.Path, err) {
			// The writer's next checkpoint removed it after the listing:
			// no longer part of the directory (check passes over it too).
			continue
		}
		ok := err == nil
		if !ok {
			rep.CheckpointProblems++
		}
		rep.Checkpoints = append(rep.Checkpoints, checkCheckpoint{File: c.Path, LSN: uint64(c.LSN), Bytes: c.Size, OK: ok})
	}
	// Oldest first reads naturally next to the segments.
	for i, j := 0, len(rep.Checkpoints)-1; i < j; i, j = i+1, j-1 {
		rep.Checkpoints[i], rep.Checkpoints[j] = rep.Checkpoints[j], rep.Checkpoints[i]
	}

	st, err := replayBesideWriter(ctx, fs, dir, mmsb.ReplayTarget{}, nil)
	if err != nil {
		return interrupted(ctx, "inspect of "+dir, replayFailed(dir, err))
	}
	defer st.Close() //nolint:errcheck // nothing written through it is lost by a failed close
	// The report marks the file damaged; stderr names it as graph,
	// replay, read and checkpoint do (TestReadCommandsNameDamagedCheckpoint).
	a.noteSkippedCheckpoints(st.Recovery(), "run `mmsb check "+termText(dir)+"`")
	stats := st.Stats()
	rep.LastLSN = uint64(st.LastLSN())
	if rep.StateHash, err = stateHash(st); err != nil {
		return err
	}
	rep.PageCount, rep.LogicalBytes, rep.Edges, rep.Bindings = stats.Pages, stats.LogicalBytes, stats.Edges, stats.Bindings
	if listPages {
		rep.Pages = []inspectPage{}
		pages, err := st.Pages()
		if err != nil {
			return err
		}
		for _, p := range pages {
			ip := inspectPage{ID: uint64(p.ID), Size: p.Size, Location: p.Location.String(), Epoch: uint64(p.Epoch),
				LastLSN: uint64(p.LastLSN), Flags: p.Flags, Derived: p.Derived}
			if b, ok := st.Binding(p.ID); ok {
				ip.Func = b.Func
			}
			rep.Pages = append(rep.Pages, ip)
		}
	}
	if jsonOut {
		return a.printJSON(rep)
	}
	a.printInspect(rep)
	return nil
}

func (a *app) printInspect(r *inspectReport) {
	w := a.stdout
	fmt.Fprintf(w, "directory %s\n\n", termText(r.Dir))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "SEGMENT\tBYTES\tRECORDS\tFIRST LSN\tLAST LSN\n")
	switch {
	case r.LogMissing:
		fmt.Fprintf(tw, "(none: no log directory)\n")
	case len(r.Segments) == 0:
		fmt.Fprintf(tw, "(none)\n")
	}
	for _, s := range r.Segments {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", filepath.Base(s.File), s.Bytes, s.Records, s.FirstLSN, s.LastLSN)
	}
	tw.Flush()
	if r.LogProblems > 0 {
		// "1 log problem(s)" until 2026-12-07 (TestCountsOfOneInReadAndBench).
		fmt.Fprintf(w, "(%s: run `mmsb check %s`)\n", counted(r.LogProblems, "log problem", "log problems"), r.Dir)
	}
	if r.LogMissing {
		fmt.Fprintf(w, "(log directory %s is missing: whatever it held is not in the state below; Open would make an empty one, "+
			"and refuses the directory once it holds a checkpoint)\n", filepath.Join(r.Dir, "wal"))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "CHECKPOINT\tLSN\tBYTES\n")
	if len(r.Checkpoints) == 0 {
		fmt.Fprintf(tw, "(none)\n")
	}
	for _, c := range r.Checkpoints {
		damaged := ""
		if !c.OK {
			damaged = "\tdamaged"
		}
		size := strconv.FormatInt(c.Bytes, 10)
		if c.Bytes < 0 {
			size = "unreadable" // JSON says -1
		}
		fmt.Fprintf(tw, "%s\t%d\t%s%s\n", filepath.Base(c.File), c.LSN, size, damaged)
	}
	tw.Flush()
	if r.CheckpointProblems > 0 {
		// "1 checkpoint(s) do not verify" until 2026-12-07
		// (TestInspectDamagedCheckpoint). The directory is said as
		// termText says it, here and in the "directory" line: raw, a
		// space at its end was lost and a newline in it broke the line
		// (TestInspectCheckHintQuotesDir).
		fmt.Fprintf(w, "(%s %s not verify: run `mmsb check %s`)\n", counted(r.CheckpointProblems, "checkpoint", "checkpoints"),
			inNumber(r.CheckpointProblems, "does", "do"), termText(r.Dir))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "last LSN    %d\nstate hash  %s\npages       %d (%s)\nedges       %d\nbindings    %d\n",
		r.LastLSN, r.StateHash, r.PageCount, humanBytes(r.LogicalBytes), r.Edges, r.Bindings)
	if r.Pages != nil {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "PAGE\tSIZE\tLOCATION\tEPOCH\tLAST LSN\tFLAGS\tDERIVED\n")
		for _, p := range r.Pages {
			derived := "-"
			if p.Derived {
				derived = termText(p.Func)
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%d\t%s\t%s\n", p.ID, p.Size, p.Location, p.Epoch, p.LastLSN, flagNames(p.Flags), derived)
		}
		tw.Flush()
	}
}

// termText is s as a table cell on a terminal: as it is when every
// character prints, else Go-quoted ("a\tb", "\x1b[2J"). A function name is
// any string a writer registered (or a crafted directory holds): a tab or
// newline in it misaligned the table, and an escape sequence reached the
// terminal (TestInspectPagesQuotesFunctionNames). A name holding a quote is
// quoted too, so that a quoted cell is never ambiguous. --json prints the
// name exactly. So is a name or path one of whose slash-separated
// parts begins or ends with a space: a path said raw (`not an MMSB data
// directory: bus1 : no such file or directory`) hid the space that made
// it wrong (TestErrorsQuoteEdgeSpacedPaths).
func termText(s string) string {
	if !unprintable(s) && !edgeSpaced(s) {
		return s
	}
	return strconv.Quote(s)
}

// edgeSpaced reports whether a slash-separated part of s begins or ends
// with a space ("bus1 ", "/data/ bus1").
func edgeSpaced(s string) bool {
	for part := range strings.SplitSeq(s, "/") {
		if strings.TrimSpace(part) != part {
			return true
		}
	}
	return false
}

// unprintable reports whether s cannot be printed raw on a terminal line:
// empty, not UTF-8, or holding a quote or a character that does not
// print (a newline, an escape). termText quotes these, and also a string
// with a space at either end; quoteUserText looks for the first kind only
// inside messages, where a value such as "a " also matches plain words.
func unprintable(s string) bool {
	return s == "" || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r == '"' || !unicode.IsPrint(r) })
}
