// Package cliflags parses the example commands' flags with the exit
// statuses their READMEs give.
package cliflags

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// Parse parses os.Args[1:] into flag.CommandLine. A flag the flag package
// cannot parse (an unknown flag, --seed=-1 for an unsigned one) exits with
// status 1 once the package has printed the error and the usage: its own
// ExitOnError exits with 2, which the examples keep for a failed
// comparison or replay check. -h and --help exit 0.
func Parse() {
	flag.CommandLine.Init(os.Args[0], flag.ContinueOnError)
	err := flag.CommandLine.Parse(os.Args[1:])
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	default:
		os.Exit(1)
	}
}

// EmptyValue returns an error naming the first flag of fs (in name order)
// given an empty text value (`--input "$F"` with F unset), or nil. Each
// such flag took "" as not given: compiler-ir --input "" ran the generated
// program and --dump "" ran the sweep instead of writing one, and
// game-ai --plot "" drew nothing, all with status 0. The commands wrap it
// in their bad-flag error (exit status 1).
func EmptyValue(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok && err == nil {
			if v, ok := g.Get().(string); ok && v == "" {
				err = fmt.Errorf("--%s \"\": an empty value (an unset variable?): give one, or omit the flag", f.Name)
			}
		}
	})
	return err
}

// OutputDir makes dir, the directory an output flag (--plot) names, with
// its parents, and checks that a file can be created in it. The commands
// call it before their run, so that a directory they could not write is
// refused at once, naming the flag: the charts are written at the end, and
// `--plot FILE` failed there, after the whole run, with an error that named
// no flag ("mkdir FILE: not a directory").
//
// The returned undo removes the directories OutputDir made, if they are
// still empty: a run interrupted or failed before its charts calls it, so
// that it leaves no empty --plot directory behind (it did). It never
// removes a directory that existed before, nor one that holds anything.
func OutputDir(flagName, dir string) (undo func(), err error) {
	// The topmost directory that does not exist yet: the one to remove.
	made := ""
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		made = d
		if filepath.Dir(d) == d {
			break
		}
	}
	undo = func() {
		if made == "" {
			return
		}
		// From dir up to made, each removed only if empty (os.Remove
		// refuses a directory that is not).
		for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
			if os.Remove(d) != nil || d == made {
				return
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		undo()
		return func() {}, fmt.Errorf("--%s %s: %w", flagName, dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		undo()
		return func() {}, fmt.Errorf("--%s %s: %w", flagName, dir, err)
	}
	name := f.Name()
	err = errors.Join(f.Close(), os.Remove(name))
	if err != nil {
		return func() {}, fmt.Errorf("--%s %s: %w", flagName, dir, err)
	}
	return undo, nil
}
