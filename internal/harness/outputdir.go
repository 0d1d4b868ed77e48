package harness

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mmsb-go/mmsb/internal/checkpoint"
	"github.com/mmsb-go/mmsb/internal/tlog"
)

// ErrNotAnOutput is the refusal of CheckHistoryDir and CheckChartDir: a
// file the output would replace or append to is not one an earlier
// output of the same kind wrote, or the directory is a bus's. Nothing
// was written.
var ErrNotAnOutput = errors.New("harness: output")

// outputKind names, in a refusal, the output a directory would receive.
// The report, the history and the charts share one rule (checkOutputs):
// they replace, or append to, only an earlier output of their own kind,
// and go in no bus's directory.
type outputKind struct {
	err     error  // the sentinel the refusal wraps
	noun    string // "a report", in "a report there would be a stray file"
	earlier string // "an earlier report", in "or one holding an earlier report"
	does    string // "the report would replace it"
}

var (
	reportKind  = outputKind{ErrNotAReport, "a report", "an earlier report", "the report would replace it"}
	historyKind = outputKind{ErrNotAnOutput, "a history", "an earlier history", "the history line would be appended to it"}
	chartKind   = outputKind{ErrNotAnOutput, "a chart", "earlier charts", "the chart would replace it"}
)

// outputFile is one file an output writes in its directory: its name,
// how an earlier one begins, and what that is called.
type outputFile struct {
	name  string
	magic []byte
	what  string
	// empty: an existing empty file counts as an earlier one (appending
	// to it loses nothing).
	empty bool
}

// checkBusDir refuses dir when it is a bus's directory, or its wal/,
// checkpoints/ or shared/ (it holds a log segment, a checkpoint, LOCK or
// log-mode, or lies beside a LOCK): an output there is a stray file among
// the bus's. A dir that does not exist is fine (exists false).
func checkBusDir(dir string, k outputKind) (exists bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: %s: %w", k.err, dir, err)
	}
	for _, e := range entries {
		if n := e.Name(); isBusName(n) {
			return true, fmt.Errorf("%w: %s holds %s: it is a bus's directory, and %s there would be a stray file among its files: "+
				"name a directory of its own; nothing was written", k.err, dir, n, k.noun)
		}
	}
	// Absolute first: --report . run in a bus's wal/.
	if abs, err := filepath.Abs(dir); err == nil {
		if base := filepath.Base(abs); base == "wal" || base == "checkpoints" || base == "shared" {
			if st, err := os.Lstat(filepath.Join(filepath.Dir(abs), "LOCK")); err == nil && st.Mode().IsRegular() {
				return true, fmt.Errorf("%w: %s is the %s/ directory of the bus beside its LOCK, and %s there would be a stray file among its files: "+
					"name a directory of its own; nothing was written", k.err, dir, base, k.noun)
			}
		}
	}
	return true, nil
}

// checkOutputs reports whether an output of kind k may write files into
// dir: dir is no bus's (checkBusDir), and each of files that exists is an
// earlier output's (it begins with its magic). It returns which of files
// exist as earlier outputs.
func checkOutputs(dir string, k outputKind, files []outputFile) ([]bool, error) {
	exists, err := checkBusDir(dir, k)
	if err != nil || !exists {
		return make([]bool, len(files)), err
	}
	earlier := make([]bool, len(files))
	for i, f := range files {
		if earlier[i], err = existingOutput(filepath.Join(dir, f.name), f, k); err != nil {
			return nil, err
		}
	}
	return earlier, nil
}

// isBusName reports whether name is one only a bus gives a file in its
// directory or in its wal/ or checkpoints/.
func isBusName(name string) bool {
	if name == "LOCK" || name == tlog.ModeFileName {
		return true
	}
	if _, ok := tlog.ParseSegmentName(name); ok {
		return true
	}
	_, ok := checkpoint.ParseName(name)
	return ok
}

// existingOutput reports whether path exists and begins with f.magic; an
// existing path that does not, is no regular file or cannot be read is
// an error wrapping k.err.
func existingOutput(path string, f outputFile, k outputKind) (bool, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err == nil && !st.Mode().IsRegular() {
		err = errors.New("it is no regular file (a directory, a link, a device)")
	}
	if err == nil && st.Size() == 0 && f.empty {
		return true, nil
	}
	var head []byte
	if err == nil {
		var r *os.File
		if r, err = os.Open(path); err == nil {
			head = make([]byte, len(f.magic))
			_, err = io.ReadFull(r, head)
			_ = r.Close() // read-only
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = nil // too short: not magic, said below
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("%w: %s exists and cannot be told to be %s (%v), and %s: "+
			"name a new or empty directory; nothing was written", k.err, path, f.what, err, k.does)
	}
	if !bytes.Equal(head, f.magic) {
		return false, fmt.Errorf("%w: %s exists and is not %s, and %s: "+
			"name a new or empty directory, or one holding %s; nothing was written", k.err, path, f.what, k.does, k.earlier)
	}
	return true, nil
}

// pendingOutput is one file writeOutputs puts in place.
type pendingOutput struct {
	name  string
	write func(io.Writer) error
}

// writeOutputs writes each output to a temporary file beside its place
// in dir (.NAME.tmp-*), calls recheck (the caller's check of dir, again:
// something may have made one of the files meanwhile), and only then
// renames them over their names, in order. A failure or a refusal leaves
// dir's files as they were, and no temporary file of those not renamed.
// dir must exist.
func writeOutputs(dir string, outs []pendingOutput, recheck func() error, errPrefix string) (err error) {
	tmps := make([]string, 0, len(outs))
	defer func() {
		if err != nil {
			for _, t := range tmps {
				_ = os.Remove(t) // not renamed: nothing of the caller's
			}
		}
	}()
	for _, o := range outs {
		f, err := os.CreateTemp(dir, "."+o.name+".tmp-*")
		if err != nil {
			return fmt.Errorf("%s: %w", errPrefix, err)
		}
		tmps = append(tmps, f.Name())
		err = o.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %s: %w", errPrefix, o.name, err)
		}
	}
	if err := recheck(); err != nil {
		return err
	}
	for i, o := range outs {
		if err := os.Rename(tmps[i], filepath.Join(dir, o.name)); err != nil {
			tmps = tmps[i:] // those renamed are in place
			return fmt.Errorf("%s: %w", errPrefix, err)
		}
	}
	return nil
}

// pngMagic begins every PNG file (the charts).
var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// CheckChartDir reports whether WriteCharts may write the PNG files
// named in dir: dir is no bus's directory (nor its wal/, checkpoints/ or
// shared/), and each of the names that exists there is a PNG (an earlier
// chart); anything else is refused with ErrNotAnOutput, naming it. A dir
// that does not exist is fine. bench --plot wrote its charts into any
// directory, over any file of their names, until 2026-12-07.
func CheckChartDir(dir string, names []string) error {
	files := make([]outputFile, len(names))
	for i, n := range names {
		files[i] = outputFile{name: n, magic: pngMagic, what: "a PNG chart"}
	}
	_, err := checkOutputs(dir, chartKind, files)
	return err
}

// ChartFile is one PNG WriteCharts writes.
type ChartFile struct {
	Name    string                  // file name in the directory
	WriteTo func(w io.Writer) error // writes the PNG
}

// WriteCharts writes the charts into dir (made if needed) where
// CheckChartDir allows, checked before anything is written and again
// before the files are renamed into place (as WriteHTMLReport's). A
// refusal or a failure leaves dir's files as they were.
func WriteCharts(dir string, charts []ChartFile) error {
	names := make([]string, len(charts))
	outs := make([]pendingOutput, len(charts))
	for i, c := range charts {
		names[i] = c.Name
		outs[i] = pendingOutput{name: c.Name, write: c.WriteTo}
	}
	if err := CheckChartDir(dir, names); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("harness: charts: %w", err)
	}
	return writeOutputs(dir, outs, func() error { chartsBeforeRecheck(); return CheckChartDir(dir, names) }, "harness: charts")
}

// chartsBeforeRecheck runs before WriteCharts checks dir again; a test
// makes a file there.
var chartsBeforeRecheck = func() {}
