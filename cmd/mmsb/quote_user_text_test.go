package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestQuoteUserTextHostileValues: quoteUserText rewrites an error's text
// after the fact, so a value the user gave must never change anything
// but its own raw occurrences, and none of those may stay raw. Values
// that are not odd (a one-letter --dir found inside other words, a flag's
// name, an empty value) leave the message as it was; an odd value is
// quoted wherever it occurs, in its given, cleaned and parent forms, as
// part of a longer path and beside another; overlapping odd values are
// quoted as one span (replacing one of them left the other's newline
// raw, and the message broke in two); a message that already quotes a
// value is left as it is.
func TestQuoteUserTextHostileValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		msg    string
		values []string
		want   string
	}{
		{"a plain value inside other words", "--dir a: a bus is made only in a new directory", []string{"a"}, "--dir a: a bus is made only in a new directory"},
		{"a value that is a flag's name", "--dir --dir: not a directory", []string{"--dir", "serve"}, "--dir --dir: not a directory"},
		{"an empty value", "got \"\" for --bus", []string{"", "x"}, "got \"\" for --bus"},
		{"a lone quote", `--bus "": empty`, []string{`"`}, `--bus "": empty`},
		{"quotes only", `--bus "": empty`, []string{`""`}, `--bus "": empty`},
		{"a newline in a path", "open d/a\nb/wal: no such file", []string{"d/a\nb"}, `open "d/a\nb"/wal: no such file`},
		{"bytes that are not UTF-8", "stat c\xffd: denied", []string{"c\xffd"}, `stat "c\xffd": denied`},
		{"cleaned form", "mkdir a\nb: exists", []string{"./a\nb//"}, `mkdir "a\nb": exists`},
		{"directory above the value", "stat m\nx: no such file", []string{"m\nx/cpu.pprof"}, `stat "m\nx": no such file`},
		{"a value inside a longer one", "d\n/sub: bad; d\n: bad", []string{"d\n", "d\n/sub"}, `"d\n/sub": bad; "d\n": bad`},
		{"overlapping values", "rename x\ny\nz: bad", []string{"x\ny", "y\nz"}, `rename "x\ny\nz": bad`},
		{"overlapping values, other order", "rename x\ny\nz: bad", []string{"y\nz", "x\ny"}, `rename "x\ny\nz": bad`},
		{"every occurrence", "a\tb and a\tb", []string{"a\tb"}, `"a\tb" and "a\tb"`},
		{"already quoted", `not an MMSB data directory: "a\nb": no such file`, []string{"a\nb"}, `not an MMSB data directory: "a\nb": no such file`},
		{"a quote in a value the message quoted", `--dir "a\"b": bad`, []string{`a"b`}, `--dir "a\"b": bad`},
		{"a lone control character", "open \x1b: bad", []string{"\x1b"}, `open "\x1b": bad`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := quoteUserText(tc.msg, tc.values); got != tc.want {
				t.Errorf("quoteUserText(%q, %q) = %q, want %q", tc.msg, tc.values, got, tc.want)
			}
		})
	}
	// Very many values, each odd and each in the message: every one is
	// quoted, and no raw newline is left.
	var values, parts, want []string
	for i := range 2000 {
		v := fmt.Sprintf("p%d\nq", i)
		values = append(values, v)
		parts = append(parts, v)
		want = append(want, fmt.Sprintf("%q", v))
	}
	if got := quoteUserText(strings.Join(parts, " "), values); got != strings.Join(want, " ") {
		t.Errorf("2000 odd values: got %.200q..., want each quoted", got)
	}
}

// TestUnknownOddFlagQuoted: a flag that did not parse is in none of the
// values the command's flags hold, and pflag's "unknown flag: --a<LF>b"
// (and "unknown shorthand flag: ... in -<ESC>q") printed it raw: the
// one-line usage error broke in two, or the byte reached the terminal.
// Every word of the command line is quoted now.
func TestUnknownOddFlagQuoted(t *testing.T) {
	dir := t.TempDir()
	for _, arg := range []string{"--a\nb", "-\x1bq", "--a\nb=c"} {
		r := runCLI(t, "check", arg, dir).mustCode(t, exitUsage)
		// Two lines: the error, and "Run 'mmsb check --help' ...".
		lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
		if len(lines) != 2 || !strings.Contains(lines[0], "unknown") || strings.Contains(r.stderr, "\x1b") {
			t.Errorf("mmsb check %q: stderr %q, want the unknown flag quoted on its first line and never raw", arg, r.stderr)
		}
	}
}
