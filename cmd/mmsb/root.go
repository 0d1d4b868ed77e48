package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/mattn/go-isatty"
	"github.com/mmsb-go/mmsb"
	"github.com/mmsb-go/mmsb/internal/harness"
	"github.com/mmsb-go/mmsb/internal/page"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Exit statuses. Scripts rely on them: 0 only when the command did what it
// was asked and found nothing wrong.
const (
	exitOK      = 0
	exitFailure = 1 // the command failed, or found problems (check, bench replay mismatch)
	exitUsage   = 2 // bad flags or arguments: nothing was attempted
)

// Errors shared by the subcommands; each is wrapped with the path or value
// that was wrong.
var (
	// errNotDataDir: a command that reads an existing bus was pointed at a
	// directory that holds none (no wal/ and no checkpoints/).
	errNotDataDir = errors.New("not an MMSB data directory")
	// errUsage marks bad flag values found after flag parsing.
	errUsage = errors.New("usage")
)

// app is what every subcommand shares: where output goes and whether
// progress bars are wanted. Tests build one over buffers.
type app struct {
	stdout io.Writer
	stderr io.Writer
	// terminal says stderr is a terminal: progress bars are drawn only
	// then, so that logs and pipes never receive control sequences.
	terminal bool
	// noProgress is the --no-progress flag.
	noProgress bool
	// started is set once a command's own code runs (after flag and
	// argument validation), which separates usage errors from failures.
	started bool
	// cpuProfile is the --cpuprofile flag; profiling is the open profile
	// (stopped and closed by stopProfile when the command ends).
	cpuProfile string
	profiling  *os.File
	// args is the command line as given: its words are quoted in an
	// error too (quoteUserText), also where flag parsing failed.
	args []string
}

// exitError carries a non-default exit status and a message for stderr.
// Commands that already printed their findings (check) return one.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageErr reports a bad flag value or argument combination (exit 2).
func usageErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// extraCommands holds subcommands that register themselves from their own
// file's init function, so that adding one does not edit this file.
//
// VALIDATE GOES HERE: `mmsb validate` (the 10 validation benchmarks) is
// written separately in validate.go, which is expected to contain
//
//	func init() { registerCommand(func(a *app) *cobra.Command { return a.validateCmd() }) }
//
// and to follow the conventions of the other subcommands (a.stdout,
// a.stderr, --json, a.progress, exitError for "ran but failed").
var extraCommands []func(*app) *cobra.Command

// registerCommand adds a subcommand factory; call it from init.
func registerCommand(f func(*app) *cobra.Command) { extraCommands = append(extraCommands, f) }

// run executes the command line args and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	terminal := isTerminal(stderr)
	// Several subcommands print from more than one goroutine (status
	// tickers beside a load or a leader); whole writes stay whole.
	stdout, stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	a := &app{stdout: stdout, stderr: stderr, terminal: terminal, args: args}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	// A usage error attempted nothing: its profile is dropped, and an
	// earlier one at --cpuprofile stays as it was.
	keep := err == nil || a.started && !errors.Is(err, errUsage)
	err = errors.Join(err, a.stopProfile(keep))
	return a.exitStatus(cmd, err)
}

// outputFlags are the flags naming a file a command writes (files nil),
// or a directory it writes the files named into.
var outputFlags = []struct {
	name  string
	files []string
}{
	{"cpuprofile", nil},
	{"stall-trace", nil},                       // bench
	{"plot", growthChartFiles},                 // bench
	{"report", harness.ReportFiles()},          // validate
	{"history", []string{harness.HistoryFile}}, // validate
}

// refuseSharedOutputs refuses, as a usage error naming both flags, two
// output flags of cmd (outputFlags) that would write the same file, as
// the same path, through different spellings (./x and x, a/../x), a
// symbolic link (to the file or to a directory on its way) or a hard
// link. Each output is written to a temporary name and renamed into place
// at the end, so one replaced the other's file, or was left under its
// temporary name with exit 1 (bench --cpuprofile P --stall-trace P),
// after the whole run.
func refuseSharedOutputs(cmd *cobra.Command) error {
	type written struct{ flag, path, file string }
	var outs []written
	for _, o := range outputFlags {
		f := cmd.Flags().Lookup(o.name)
		if f == nil || !f.Changed || f.Value.String() == "" {
			continue
		}
		if o.files == nil {
			outs = append(outs, written{"--" + o.name, f.Value.String(), f.Value.String()})
			continue
		}
		for _, name := range o.files {
			outs = append(outs, written{"--" + o.name, f.Value.String(), filepath.Join(f.Value.String(), name)})
		}
	}
	for i, x := range outs {
		for _, y := range outs[i+1:] {
			if x.flag != y.flag && sameOutput(x.file, y.file) {
				what := "name the same file"
				if x.file != x.path || y.file != y.path {
					what = "would both write " + termText(y.file)
				}
				return usageErr("%s %s and %s %s %s: give each its own", x.flag, termText(x.path), y.flag, termText(y.path), what)
			}
		}
	}
	return nil
}

// sameOutput reports whether the paths a and b name the same file: the
// same absolute path once the symbolic links of their directories (and
// of the paths themselves, where they are links to something that
// exists) are followed, or the same existing file (a hard link).
func sameOutput(a, b string) bool {
	if sa, err := os.Stat(a); err == nil {
		if sb, err := os.Stat(b); err == nil && os.SameFile(sa, sb) {
			return true
		}
	}
	return resolvedOutput(a) == resolvedOutput(b)
}

// resolvedOutput is path made absolute and clean, with the symbolic
// links of the existing part of it followed; the part that does not
// exist yet is kept as given.
func resolvedOutput(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	var rest []string
	for p := abs; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		if filepath.Dir(p) == p {
			return abs
		}
		rest = append([]string{filepath.Base(p)}, rest...)
	}
}

// refuseEmptyValues refuses, as a usage error naming the first such flag,
// a text flag given an empty value (`--to-time "$T"` with T unset): every
// one took "" as not given, so `replay --to-time ""` replayed the whole
// log, `bench --dir ""` ran in memory, `serve --sync ""` ran with group
// commit and `validate --only ""` ran every benchmark, each exiting 0.
// A list flag given only "" (serve --allowed-hosts "$HOSTS") is refused
// the same way: it held no element, as if not given, until 2026-12-07.
// Flags are visited in name order, so the error does not depend on the
// order they were given in.
func refuseEmptyValues(cmd *cobra.Command) error {
	var err error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		empty := f.Value.Type() == "string" && f.Value.String() == ""
		if list, ok := f.Value.(pflag.SliceValue); ok {
			empty = len(list.GetSlice()) == 0
		}
		if err == nil && empty {
			err = usageErr("--%s \"\": an empty value (an unset variable?): give one, or omit the flag for its default", f.Name)
		}
	})
	return err
}

// startProfile starts the --cpuprofile CPU profile, if asked for. It is
// written to a temporary file beside --cpuprofile, which stopProfile
// renames over it, so that a run whose profile is dropped (a usage error)
// leaves an earlier profile there untouched.
func (a *app) startProfile() error {
	if a.cpuProfile == "" {
		return nil
	}
	// A directory there would refuse the rename only once the command
	// had done its work (a checkpoint taken, a replay written), which then
	// printed its result and exited 1.
	if err := checkOutputFile(a.cpuProfile); err != nil {
		return fmt.Errorf("--cpuprofile %s: %w", a.cpuProfile, err)
	}
	if err := checkProfileReplaceable(a.cpuProfile); err != nil {
		return fmt.Errorf("--cpuprofile %s: %w", a.cpuProfile, err)
	}
	f, err := createOutputTemp(a.cpuProfile)
	if err != nil {
		return fmt.Errorf("--cpuprofile %s: %w", a.cpuProfile, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("--cpuprofile %s: %w", a.cpuProfile, err)
	}
	a.profiling = f
	return nil
}

// errNotAProfile: --cpuprofile (or bench --stall-trace) names an existing
// file that is not an earlier profile (trace), which the new one would
// replace.
var errNotAProfile = errors.New("exists and is not an earlier output of this flag")

// Magic numbers of what --cpuprofile and --stall-trace write: gzip's (a
// pprof profile is compressed) and a Go execution trace's header.
var (
	profileMagic = []byte{0x1f, 0x8b}
	traceMagic   = []byte("go 1.")
)

// checkProfileReplaceable refuses a --cpuprofile path that holds something
// other than an earlier profile (gzip data, as pprof writes), which the
// rename at the end would replace: a bus's log segment (`mmsb check DIR
// --cpuprofile DIR/wal/<segment>`, a tab completion's slip, replaced the
// whole log with a profile and exited 0), its LOCK (a second writer could
// then take the lock), or a device such as /dev/null (a regular file
// replaced it). A path that does not exist is left to the rename; an
// existing file that cannot be read is refused (it cannot be told to be
// an earlier profile: it was replaced until 2026-12-07).
func checkProfileReplaceable(path string) error {
	return checkReplaceable(path, profileMagic, profileWhat)
}

// What --cpuprofile and --stall-trace begin with, as their errors name it.
const (
	profileWhat = "gzip data, as pprof writes"
	traceWhat   = "Go execution trace header"
)

// openToCheck opens an existing output file for checkReplaceable; a test
// makes it fail (as root, no file is unreadable).
var openToCheck = os.Open

// checkReplaceable is checkProfileReplaceable for a file that begins with
// magic (what names it).
func checkReplaceable(path string, magic []byte, what string) error {
	st, err := os.Stat(path)
	if err != nil {
		return nil
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: it is no regular file (a device, a pipe), which the output would replace: name a new file; nothing was run", errNotAProfile)
	}
	f, err := openToCheck(path)
	if err != nil {
		// Unreadable (mode 000, another user's): whatever it holds,
		// the rename would replace it.
		return fmt.Errorf("%w: it cannot be read (%v), so it cannot be told to be one, and the output would replace it: "+
			"name a new file, or remove this one if it is not needed; nothing was run", errNotAProfile, err)
	}
	defer func() { _ = f.Close() }()
	head := make([]byte, len(magic))
	if n, _ := io.ReadFull(f, head); n == len(magic) && bytes.Equal(head, magic) {
		return nil
	}
	return fmt.Errorf("%w (no %s at its start), and the output would replace it: "+
		"name a new file, or remove this one if it is not needed; nothing was run", errNotAProfile, what)
}

// checkOutputFile says why a file that a command writes at its end (a
// profile, a trace) could not be created at path: path is a directory, or
// its directory is missing or no directory. Checked before the command
// works, so that its work is not lost to a bad path.
func checkOutputFile(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("%w: name a file", syscall.EISDIR)
	}
	parent := filepath.Dir(path)
	st, err := os.Stat(parent)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %w", parent, syscall.ENOTDIR)
	}
	return nil
}

// checkOutputDir says why a directory that a command makes and writes
// into at its end could not be made at path: path, or the nearest of its
// parents that exists, is no directory. Checked before the command
// works; nothing is created.
func checkOutputDir(path string) error {
	for p := filepath.Clean(path); ; {
		st, err := os.Stat(p)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s: %w", p, syscall.ENOTDIR)
			}
			return nil
		}
		if !os.IsNotExist(err) {
			return err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return nil
		}
		p = parent
	}
}

// existingDirFlag refuses, as a usage error naming flag, a path given to
// it that is not an existing directory (a typo, or a file).
func existingDirFlag(flag, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return usageErr("%s %s: %v", flag, path, err)
	}
	if !st.IsDir() {
		return usageErr("%s %s: %v: name a directory", flag, path, syscall.ENOTDIR)
	}
	return nil
}

// existingFileFlag refuses, as a usage error naming flag, a path given
// to it that does not exist or is a directory. Other kinds (a pipe from
// the shell's <(...)) are left to the code that reads it.
func existingFileFlag(flag, path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return usageErr("%s %s: %v", flag, path, err)
	}
	if st.IsDir() {
		return usageErr("%s %s: %v: name a file", flag, path, syscall.EISDIR)
	}
	return nil
}

// stopProfile ends the CPU profile started by startProfile and, with keep,
// moves it to --cpuprofile; without, removes it. A no-op when none runs.
func (a *app) stopProfile(keep bool) error {
	if a.profiling == nil {
		return nil
	}
	pprof.StopCPUProfile()
	tmp := a.profiling.Name()
	err := a.profiling.Close()
	a.profiling = nil
	if err == nil && keep {
		return renameOutput("--cpuprofile", tmp, a.cpuProfile, profileMagic, profileWhat)
	}
	_ = os.Remove(tmp)
	if err != nil {
		return fmt.Errorf("--cpuprofile %s: %w", a.cpuProfile, err)
	}
	return nil
}

// createOutputTemp creates the temporary file beside path that an output
// (--cpuprofile, bench --stall-trace) is written to before renameOutput
// moves it to path. Its name holds at most the first 64 bytes of path's
// (cut at a character's start): a name near the 255-byte limit left no
// room for ".tmp-" and the random part, and the stall trace, written
// straight to such a path before, failed at the stall after the whole
// run ("file name too long") until 2026-12-07.
func createOutputTemp(path string) (*os.File, error) {
	base := filepath.Base(path)
	if len(base) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = base[:cut]
	}
	return os.CreateTemp(filepath.Dir(path), "."+base+".tmp-*")
}

// renameOutput moves tmp, the finished output of flag, to path. path is
// checked again first (checkReplaceable, as before the command ran): the
// command may have made the file since it started (`--cpuprofile
// NEW/wal/<first segment>` with a bus made in NEW; bench --stall-trace
// into its own bus's directory), and the rename replaced it all the
// same. The output is kept under its temporary name then, named in the
// error. A failed rename removes tmp.
func renameOutput(flag, tmp, path string, magic []byte, what string) error {
	if err := checkReplaceable(path, magic, what); err != nil {
		return fmt.Errorf("%s %s: %w: the command made it (or changed it) while it ran, and the output would replace it: "+
			"left as it is; the output is in %s", flag, path, errNotAProfile, tmp)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return nil
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// exitStatus prints err (if any) to stderr and maps it to an exit status.
func (a *app) exitStatus(cmd *cobra.Command, err error) int {
	if err == nil {
		return exitOK
	}
	name := "mmsb"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	// Every path the user gave is quoted where it needs it, whichever
	// code (this command's, the library's, the OS's) named it.
	values := append(userValues(cmd), argWords(a.args)...)
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(a.stderr, "%s: %s\n", name, quoteUserText(ee.msg, values))
		}
		return ee.code
	case !a.started || errors.Is(err, errUsage):
		fmt.Fprintf(a.stderr, "%s: %s\nRun '%s --help' for usage.\n", name, quoteUserText(err.Error(), values), name)
		return exitUsage
	default:
		fmt.Fprintf(a.stderr, "%s: %s\n", name, quoteUserText(err.Error(), values))
		return exitFailure
	}
}

// userValues lists what the user gave cmd: its arguments and the values
// of the flags set (each element of a list flag's).
func userValues(cmd *cobra.Command) []string {
	if cmd == nil {
		return nil
	}
	values := slices.Clone(cmd.Flags().Args())
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			values = append(values, sv.GetSlice()...)
			return
		}
		values = append(values, f.Value.String())
	})
	return values
}

// argWords lists the words of the command line args, and the value of
// each --flag=VALUE in it: userValues has only what parsed, and a flag
// that did not ("unknown flag: --a<newline>b", "unknown shorthand flag:
// ... in -<ESC>q") was printed raw, the message broken in two or the
// byte sent to the terminal.
func argWords(args []string) []string {
	words := slices.Clone(args)
	for _, arg := range args {
		if name, value, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(name, "-") {
			words = append(words, name, value)
		}
	}
	return words
}

// quoteUserText is msg, an error's one-line message, with every raw
// occurrence of a value the user gave (a path above all) that termText
// would quote (a newline, a control character, a quote, bytes that are
// not UTF-8 in it) replaced by its termText form: a path holding a
// newline broke the message in two (a log reader took the second line for
// a message of its own), and its bytes reached the terminal. The data
// directory errors quote such a path themselves
// (TestDataDirErrorsQuoteOddPaths); the other errors that name a
// user-given path (a flag's check, an OS error naming PATH/wal, the
// library's) printed it raw (TestErrorsQuoteOddUserPaths). A value in
// its cleaned form (filepath.Clean: ./a/ is a), and each directory above
// it that is odd too, are found as well. Occurrences that overlap (two
// values, one ending where the other begins) are quoted as one span:
// replacing the first left the second's newline raw. A value of quotes
// only ("", a script's quoting slip) is left, as an empty one: it is no
// path, and matched the message's own quotes (`got ""` became
// `got "\"\""`). Values that are not odd (--dir a, a flag's name) never
// change the message (TestQuoteUserTextHostileValues).
func quoteUserText(msg string, values []string) string {
	// spans are the [start, end) byte ranges of msg where a value occurs.
	var spans [][2]int
	seen := make(map[string]bool)
	add := func(form string) {
		if strings.Trim(form, `"`) == "" || !unprintable(form) || seen[form] {
			return
		}
		seen[form] = true
		for off := 0; off < len(msg); {
			i := strings.Index(msg[off:], form)
			if i < 0 {
				break
			}
			spans = append(spans, [2]int{off + i, off + i + len(form)})
			off += i + 1
		}
	}
	for _, v := range values {
		add(v)
		// Its cleaned form and the directories above it that are odd
		// too ("stat DIR" for a file in a missing DIR).
		for p := filepath.Clean(v); unprintable(p); {
			add(p)
			parent := filepath.Dir(p)
			if parent == p {
				break
			}
			p = parent
		}
	}
	if len(spans) == 0 {
		return msg
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		// Merge every span that begins inside this one.
		for i++; i < len(spans) && spans[i][0] < end; i++ {
			end = max(end, spans[i][1])
		}
		b.WriteString(msg[last:start])
		b.WriteString(termText(msg[start:end]))
		last = end
	}
	b.WriteString(msg[last:])
	return b.String()
}

func (a *app) rootCmd() *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "mmsb",
		Short: "Tools for the Memory-Mapped State Bus",
		Long: `mmsb works with MMSB data directories: it benchmarks the commit path, checks
every file of a directory without modifying it, inspects segments, checkpoints
and pages, replays the log to a point in time into a new directory, takes
checkpoints, and shows the dependency graph.

Commands that only read (check, inspect, graph, replay) never take the
directory's write lock, so they work next to a running writer.

Exit status: 0 on success, 1 when a command failed or found problems, 2 on a
usage error.`,
		Example: `  mmsb bench --count 1000000
  mmsb check ./data
  mmsb inspect --pages ./data
  mmsb replay ./data --to-lsn 5000 --out ./data-at-5000
  mmsb checkpoint ./data
  mmsb graph --dot ./data | dot -Tsvg > graph.svg`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Runs after flags and arguments were validated: errors from here
		// on are failures, not usage errors. The root itself only
		// refuses to run (below): nothing starts for it.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.HasParent() {
				return nil
			}
			if err := refuseEmptyValues(cmd); err != nil {
				return err
			}
			if err := refuseSharedOutputs(cmd); err != nil {
				return err
			}
			a.started = true
			return a.startProfile()
		},
		// `mmsb` with no command printed the help on stdout and exited 0,
		// so a script that lost its subcommand (an empty variable) read
		// as a success; an unknown command is a usage error (cobra's
		// "unknown command", before this runs), and so is none at all.
		RunE: func(cmd *cobra.Command, _ []string) error {
			if showVersion {
				return a.printVersion(false) // as `mmsb version`
			}
			fmt.Fprint(a.stderr, cmd.UsageString())
			return usageErr("no command given: name one of the commands above")
		},
	}
	root.PersistentFlags().BoolVar(&a.noProgress, "no-progress", false, "never draw progress bars (they are drawn only when stderr is a terminal)")
	root.PersistentFlags().StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile of the command to this file (go tool pprof; cmd/mmsb/default.pgo is built from such profiles)")
	root.Flags().BoolVar(&showVersion, "version", false, "print which build of mmsb this is and exit (as mmsb version)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %w", errUsage, numberFlagErr(err)) })
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		a.benchCmd(),
		a.checkCmd(),
		a.inspectCmd(),
		a.replayCmd(),
		a.checkpointCmd(),
		a.graphCmd(),
	)
	for _, f := range extraCommands {
		root.AddCommand(f(a))
	}
	strictHelpTopics(root)
	return root
}

// strictHelpTopics makes `mmsb help TOPIC` a usage error (exit 2) when
// TOPIC is not a command path: cobra's help command printed "Unknown help
// topic" and the usage on stdout and exited 0 (and showed the help of
// "replicate" for "replicate nope"). Known topics keep cobra's help.
func strictHelpTopics(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() != "help" || c.Run == nil {
			continue
		}
		show := c.Run
		c.Run = nil
		c.RunE = func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err == nil && len(rest) > 0 {
				err = fmt.Errorf("%q is no command of %q", rest[0], cmd.CommandPath())
			}
			if err != nil {
				return usageErr("no help topic %q: %v", strings.Join(args, " "), err)
			}
			show(c, args)
			return nil
		}
	}
}

// isTerminal reports whether w is a terminal (or a Cygwin/MSYS pty).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// interrupted returns err, or, when ctx was cancelled (SIGINT, SIGTERM),
// an error saying that what was interrupted: the replay's own error then
// ("replay DIR (run `mmsb check DIR` for every problem): context
// canceled") blamed the directory for the user's interrupt.
func interrupted(ctx context.Context, what string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s interrupted before it finished: %w", what, cerr)
	}
	return err
}

// dirArg validates a command's single data-directory argument. An empty
// one (`mmsb read "$DIR"` with DIR unset) is a usage error, as an empty
// flag value is (checkEmptyFlags): it was looked up as a path, "not an
// MMSB data directory: \"\": no such file or directory", exit 1.
func dirArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: %s takes exactly one data directory, got %d arguments", errUsage, cmd.Name(), len(args))
	}
	if args[0] == "" {
		return fmt.Errorf("%w: %s DIR \"\": an empty value (an unset variable?): give the data directory", errUsage, cmd.Name())
	}
	return nil
}

// requireDataDir checks that dir exists and holds an MMSB bus (a wal/ or a
// checkpoints/ subdirectory, or a LOCK file beside nothing no bus makes:
// heldNothing), so that a typo is reported as such rather than as an
// empty bus, and so that nothing is ever created by mistake.
func requireDataDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		// err names dir again, raw: said once, quoted where it needs it.
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: %s: %w: %s", errNotDataDir, termText(dir), err, noBusMissing)
		}
		return fmt.Errorf("%w: %s: %w", errNotDataDir, termText(dir), err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", errNotDataDir, termText(dir))
	}
	if names, err := os.ReadDir(dir); err == nil && len(names) == 0 {
		// What a first Open leaves when it stopped before taking its
		// lock (it makes DIR, then LOCK): nothing of a bus. It was
		// refused as a directory with "neither wal/ nor checkpoints/",
		// as if something else were there
		// (TestFirstOpenCrashStatesAcceptedByEveryCommand).
		return fmt.Errorf("%w: %s is empty: %s", errNotDataDir, termText(dir), noBusYet)
	}
	for _, sub := range []string{"wal", "checkpoints"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			return nil
		}
	}
	if heldNothing(dir) {
		// A LOCK file beside nothing else that no bus makes: a first
		// Open that stopped between taking its lock and making the
		// directories, which the next Open makes a bus of. It was
		// refused here, so that every command but Open refused a state
		// a crash leaves (TestFirstOpenCrashStatesAcceptedByEveryCommand).
		// Beside another program's files a LOCK is no bus's, and a
		// directory without one holds nothing of a bus: both refused.
		return nil
	}
	return fmt.Errorf("%w: %s has neither wal/ nor checkpoints/", errNotDataDir, termText(dir))
}

// noBusYet ends the refusal of a data directory that is missing or
// empty: what a first Open leaves if it stops before taking its lock
// (vfs.MkdirAllAndSync, then LOCK), and what a mistyped path gives.
const noBusYet = "no bus yet (a first Open that stopped before taking its lock leaves this, and so does a mistyped path; the next Open, mmsb.Open or mmsb serve, makes a new bus there)"

// noBusMissing ends the refusal of a data directory that does not exist:
// a mistyped path first. It ended as noBusYet, whose explanation began
// with a first Open that stopped before taking its lock, which does not
// fit a typo (TestMissingDataDirSaysTypoFirst).
const noBusMissing = "no bus yet (the path does not exist: check it for a typo; a first Open that stopped before making the directory leaves nothing there either, and the next Open, mmsb.Open or mmsb serve, makes a new bus there)"

// busInUse is the error of every command that opens a bus directory as
// its writer (checkpoint, serve, replicate, follow, serve --replicate)
// when another process holds it (mmsb.ErrLocked): one message, where
// serve and the replication nodes printed the bare "vfs: lock held:
// DIR/LOCK" (TestBusInUseSaidOneWay). next says what to do instead. Any
// other error is returned as it is, and so is a shared region whose
// name or header another process locks (Options.Shared), which Open also
// gives as mmsb.ErrLocked, wrapping page.ErrRegionLocked or
// page.ErrHeaderLocked, and says in its own words: the directory is not
// held. They were told apart by the error's text
// (TestBusInUseNotSaidOfSharedRegion).
func busInUse(dir string, err error, next string) error {
	if !errors.Is(err, mmsb.ErrLocked) || errors.Is(err, page.ErrRegionLocked) || errors.Is(err, page.ErrHeaderLocked) {
		return err
	}
	return fmt.Errorf("%s is in use: another process holds its write lock (%s): %w", dir, next, err)
}

// noteSkippedCheckpoints tells stderr of each checkpoint that recovery
// (an Open, or a replay) passed over because it does not load, naming it
// and why: the state came from an older checkpoint and the log, so
// nothing committed is lost, but the damage may mean a failing disk.
// replay and graph said nothing of it and exited 0 until 2026-12-07
// (TestReadCommandsNameDamagedCheckpoint). next says what happens to the
// file now.
func (a *app) noteSkippedCheckpoints(rec mmsb.Recovery, next string) {
	for _, why := range rec.SkippedCheckpoint {
		fmt.Fprintf(a.stderr, "note: recovery passed over a checkpoint that does not load and %s (nothing committed is lost; %s; damage can mean a failing disk): %s\n", startedFrom(rec), next, why)
	}
}

// startedFrom says where a recovery that passed over a checkpoint
// started: the checkpoint it loaded, or, with none, an empty bus and the
// whole log. It said "an older one" where there was none
// (TestSkippedCheckpointSaysWhereRecoveryStarted).
func startedFrom(rec mmsb.Recovery) string {
	if rec.Checkpoint == "" {
		return "started from an empty bus and the log from LSN 1"
	}
	return fmt.Sprintf("started from the older checkpoint %s (LSN %d) and the log after it", termText(rec.Checkpoint), rec.CheckpointLSN)
}

// noteMissingLog tells stderr when dir has no wal/: a state read from it
// holds nothing that log held, and graph and read showed it as a bus that
// never logged anything. (With a checkpoint there the replay refuses the
// directory, naming wal/; inspect says it in its report.)
func (a *app) noteMissingLog(dir string) {
	wal := filepath.Join(dir, "wal")
	if _, err := os.Lstat(wal); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(a.stderr, "note: log directory %s is missing: whatever it held is not in this state "+
			"(Open would make an empty one, and refuses the directory once it holds a checkpoint)\n", wal)
	}
}

// printJSON writes v to stdout as one indented JSON object.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// hash64 formats a state hash the way every command prints it.
func hash64(h uint64) string { return fmt.Sprintf("%016x", h) }

// stateHash returns bus's state hash formatted by hash64.
func stateHash(bus *mmsb.Bus) (string, error) {
	h, err := bus.StateHash()
	if err != nil {
		return "", err
	}
	return hash64(h), nil
}

// humanBytes formats n bytes with a binary unit.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// humanCount formats a count or rate with a decimal suffix (k, M, G).
func humanCount(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// flagNames lists page flag bits by name, for people.
func flagNames(f uint8) string {
	if f == 0 {
		return "-"
	}
	var parts []string
	for _, n := range []struct {
		bit  uint8
		name string
	}{{mmsb.FlagStale, "stale"}, {mmsb.FlagSyncPending, "sync-pending"}, {mmsb.FlagIRInvalid, "ir-invalid"}} {
		if f&n.bit != 0 {
			parts = append(parts, n.name)
			f &^= n.bit
		}
	}
	if f != 0 {
		parts = append(parts, fmt.Sprintf("%#x", f))
	}
	return strings.Join(parts, ",")
}

// numberFlagErr rewrites pflag's refusal of a number flag's value, which
// ended in the parser's own words (`read --page -1`: `invalid argument
// "-1" for "--page" flag: strconv.ParseUint: parsing "-1": invalid
// syntax`), as the flag, the value and what it takes: `--page "-1": want
// a whole number, 0 or more`. Other flag errors are returned as they are.
func numberFlagErr(err error) error {
	var bad *pflag.InvalidValueError
	var num *strconv.NumError
	if !errors.As(err, &bad) || !errors.As(err, &num) {
		return err
	}
	f := bad.GetFlag()
	want := "want a whole number"
	switch typ := f.Value.Type(); {
	case f.Annotations[atLeastOneKey] != nil:
		want += ", 1 or more"
	case strings.HasPrefix(typ, "uint"):
		want += ", 0 or more"
	case strings.HasPrefix(typ, "float"):
		want = "want a number"
	}
	if errors.Is(num.Err, strconv.ErrRange) {
		want = "out of the range the flag holds"
	}
	return fmt.Errorf("--%s %s: %s", f.Name, strconv.Quote(bad.GetValue()), want)
}

// atLeastOneKey marks a number flag whose command refuses 0 (a page ID,
// an LSN): numberFlagErr says "1 or more" of a value that does not parse.
// It said "0 or more" of `read --page abc`, then refused --page 0
// (TestNumberFlagErrSaysOneOrMore).
const atLeastOneKey = "mmsb_at_least_one"

// atLeastOne marks the named flags of fs with atLeastOneKey.
func atLeastOne(fs *pflag.FlagSet, names ...string) {
	for _, name := range names {
		if err := fs.SetAnnotation(name, atLeastOneKey, []string{"1"}); err != nil {
			panic(err) // a flag name misspelt here: a defect
		}
	}
}

// syncFlag parses a --sync value (bench, serve). A bad one said "--sync:
// mmsb: invalid option: tlog: unknown sync mode ..." through three
// packages' prefixes: it is the flag, the value and the values taken.
func syncFlag(s string) (mmsb.SyncMode, error) {
	mode, err := mmsb.ParseSyncMode(s)
	if err != nil {
		return 0, usageErr("--sync %s: want group, always or none", strconv.Quote(s))
	}
	return mode, nil
}
