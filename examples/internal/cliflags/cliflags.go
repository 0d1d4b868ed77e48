// Package cliflags parses the example commands' flags with the exit
// statuses their READMEs give.
package cliflags

import (
	"errors"
	"flag"
	"os"
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
