package main

import (
	"strconv"

	"github.com/spf13/pflag"
)

// intFlag is an int flag that refuses a value int cannot hold. pflag's
// IntVar parses 64 bits and converts: on a 32-bit build (386, arm)
// --pages 1000000000000 became -727379968 and 4294967297 became 1, a
// value in range that no bound could then refuse. Every int flag of the
// CLI is one (TestIntFlagsRefuseWhatIntCannotHold, which also runs on
// linux/arm under qemu-arm in CI).
type intFlag struct{ p *int }

func (v intFlag) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, strconv.IntSize)
	if err != nil {
		return err // names the value; pflag adds the flag
	}
	*v.p = int(n)
	return nil
}

func (v intFlag) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v intFlag) Type() string { return "int" }

// intVar defines an int flag as pflag's IntVar does, through intFlag.
func intVar(f *pflag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	f.Var(intFlag{p}, name, usage)
}
