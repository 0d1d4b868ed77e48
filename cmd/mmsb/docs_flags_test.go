package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestEveryFlagIsDocumented keeps the documentation of the command line
// current: every flag of every subcommand must appear as --name in a page
// of docs/ (or README.md) that names the subcommand as "mmsb <command>".
// A flag added without a word in the docs fails here. Hidden commands (the
// child processes bench re-runs this executable as) are not for users.
func TestEveryFlagIsDocumented(t *testing.T) {
	pages := readDocPages(t)
	a := &app{stdout: io.Discard, stderr: io.Discard}
	var missing []string
	walkCommands(a.rootCmd(), func(cmd *cobra.Command) {
		if cmd.Hidden {
			return
		}
		missing = append(missing, undocumentedFlags(cmd, pages)...)
	})
	if len(missing) > 0 {
		t.Errorf("%d flags are in no docs page that names their command:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
}

// TestUndocumentedFlagIsCaught is the negative control of
// TestEveryFlagIsDocumented: a flag that no page mentions is reported.
func TestUndocumentedFlagIsCaught(t *testing.T) {
	cmd := &cobra.Command{Use: "bench"}
	root := &cobra.Command{Use: "mmsb"}
	root.AddCommand(cmd)
	cmd.Flags().Int("count", 0, "")
	cmd.Flags().Int("frobnicate-level", 0, "")
	pages := map[string]string{"docs/cli.md": "## `mmsb bench`\n\n`--count N` deltas"}
	got := undocumentedFlags(cmd, pages)
	if want := []string{"mmsb bench --frobnicate-level"}; !slices.Equal(got, want) {
		t.Fatalf("undocumented flags = %q, want %q", got, want)
	}
	// A page that documents the flag but never names the command does
	// not count.
	pages = map[string]string{"docs/other.md": "`--count N` and `--frobnicate-level`"}
	if got := undocumentedFlags(cmd, pages); len(got) != 2 {
		t.Fatalf("flags documented only on a page that never names the command were accepted: missing %q", got)
	}
}

// undocumentedFlags lists cmd's own flags (not inherited ones, not help)
// that no page naming cmd mentions.
func undocumentedFlags(cmd *cobra.Command, pages map[string]string) []string {
	name := cmd.CommandPath()
	var about []string
	for _, text := range pages {
		if strings.Contains(text, name) {
			about = append(about, text)
		}
	}
	var missing []string
	cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		re := regexp.MustCompile(`--` + regexp.QuoteMeta(f.Name) + `\b`)
		for _, text := range about {
			if re.MatchString(text) {
				return
			}
		}
		missing = append(missing, name+" --"+f.Name)
	})
	return missing
}

// walkCommands calls fn for cmd and every subcommand below it.
func walkCommands(cmd *cobra.Command, fn func(*cobra.Command)) {
	fn(cmd)
	for _, c := range cmd.Commands() {
		walkCommands(c, fn)
	}
}

// readDocPages returns README.md and every docs/*.md page by path.
func readDocPages(t *testing.T) map[string]string {
	t.Helper()
	root := filepath.Join("..", "..")
	paths, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, filepath.Join(root, "README.md"))
	pages := make(map[string]string, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pages[p] = string(b)
	}
	if len(pages) < 10 {
		t.Fatalf("found only %d docs pages under %s", len(pages), root)
	}
	return pages
}
