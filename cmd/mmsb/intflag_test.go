package main

import (
	"io"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestIntFlagsRefuseWhatIntCannotHold: every int flag of every command
// (persistent ones too) refuses a value one past int's range, naming
// it, and keeps its value; a value at the top of the range is taken. On
// a 64-bit build pflag's IntVar refuses it too, so the test can fail only
// on a 32-bit one: CI runs it on linux/arm under qemu-arm, where IntVar
// took 2^31 as -2^31 (the control: a flag defined with IntVar there).
func TestIntFlagsRefuseWhatIntCannotHold(t *testing.T) {
	a := &app{stdout: io.Discard, stderr: io.Discard}
	past := strconv.FormatUint(uint64(math.MaxInt)+1, 10)
	top := strconv.Itoa(math.MaxInt)
	n := 0
	walkCommands(a.rootCmd(), func(cmd *cobra.Command) {
		check := func(fl *pflag.Flag) {
			if fl.Value.Type() != "int" {
				return
			}
			n++
			name := cmd.CommandPath() + " --" + fl.Name
			if _, ok := fl.Value.(intFlag); !ok {
				t.Errorf("%s is a %T, want intFlag (define it with intVar)", name, fl.Value)
				return
			}
			before := fl.Value.String()
			err := fl.Value.Set(past)
			if err == nil || !strings.Contains(err.Error(), past) {
				t.Errorf("%s set to %s (past int's range): error %v, value now %s; want an error naming the value", name, past, err, fl.Value.String())
			} else if fl.Value.String() != before {
				t.Errorf("%s refused %s but its value changed from %s to %s", name, past, before, fl.Value.String())
			}
			if err := fl.Value.Set(top); err != nil || fl.Value.String() != top {
				t.Errorf("%s set to %s: error %v, value %s", name, top, err, fl.Value.String())
			}
		}
		cmd.LocalFlags().VisitAll(check)
	})
	if n < 30 {
		t.Fatalf("checked %d int flags, want the CLI's 40 or so: the walk missed commands", n)
	}
}
