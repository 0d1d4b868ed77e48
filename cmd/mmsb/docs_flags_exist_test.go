package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestDocumentedFlagsExist is TestEveryFlagIsDocumented the other way:
// every flag that a flag table of docs/cli.md lists (a row starting with
// `--name`) under a command's section (a "## " heading naming `mmsb CMD`) is a flag of
// that command, so the docs name no flag that --help lacks (a renamed or
// removed flag left behind in its table). Every flag the row's first cell
// names counts (`--page P --epoch E`, `--growth-pages`, `--plot DIR`):
// only the first was checked.
func TestDocumentedFlagsExist(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	a := &app{stdout: io.Discard, stderr: io.Discard}
	root := a.rootCmd()
	row := regexp.MustCompile("^\\| `--[a-z0-9-]+")
	flag := regexp.MustCompile("--([a-z0-9][a-z0-9-]*)")
	name := regexp.MustCompile("`mmsb ([a-z]+)")
	var cmds []*cobra.Command
	rows := 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## ") {
			cmds = nil
			for _, m := range name.FindAllStringSubmatch(line, -1) {
				if c, _, err := root.Find([]string{m[1]}); err == nil && c != root {
					cmds = append(cmds, c)
				}
			}
			continue
		}
		if !row.MatchString(line) || len(cmds) == 0 {
			continue
		}
		rows++
		cell, _, _ := strings.Cut(strings.TrimPrefix(line, "|"), "|")
		for _, m := range flag.FindAllStringSubmatch(cell, -1) {
			found := false
			for _, c := range cmds {
				if c.Flags().Lookup(m[1]) != nil || c.InheritedFlags().Lookup(m[1]) != nil {
					found = true
				}
			}
			if !found {
				t.Errorf("docs/cli.md lists --%s under %s, which has no such flag", m[1], cmds[0].CommandPath())
			}
		}
	}
	if rows < 20 {
		t.Fatalf("found only %d flag rows in docs/cli.md's command sections", rows)
	}
}
