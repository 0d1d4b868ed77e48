package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"pgregory.net/rapid"
)

// TestIncrementalEqualsFull is the example's law: after any sequence of
// edits, committed one function or many at a time, the bus's analysis pages
// are byte-identical to a from-scratch analysis of the edited program.
func TestIncrementalEqualsFull(t *testing.T) {
	ctx := context.Background()
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(2, 80).Draw(rt, "functions")
		prog := Generate(rapid.Uint64().Draw(rt, "seed"), n)
		a, err := newBusAnalyzer(ctx, prog, noFaults)
		if err != nil {
			rt.Fatal(err)
		}
		defer a.Close()
		rng := rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "edits"), 0))
		cur := prog
		for step := range rapid.IntRange(1, 8).Draw(rt, "steps") {
			next := cur.Clone()
			changed := rng.Perm(n)[:rapid.IntRange(1, n).Draw(rt, "batch")]
			slices.Sort(changed)
			for _, fn := range changed {
				randomEdit(rng, next, a.rank, a.order, fn)
			}
			if _, err := a.apply(ctx, next, changed); err != nil {
				rt.Fatal(err)
			}
			want, err := Analyse(next)
			if err != nil {
				rt.Fatal(err)
			}
			diff, err := a.mismatch(want)
			if err != nil {
				rt.Fatal(err)
			}
			if diff != "" {
				rt.Fatalf("step %d (%d functions edited): %s", step, len(changed), diff)
			}
			cur = next
		}
	})
}

// TestCheckerCatchesFaults is the negative control: a wrong dependency edge
// or a missing binding must make the byte-for-byte comparison fail, before
// and after edits; otherwise the equality the example reports proves
// nothing.
func TestCheckerCatchesFaults(t *testing.T) {
	ctx := context.Background()
	prog := Generate(7, 300)
	victim := slices.IndexFunc(prog.Funcs, func(f Function) bool { return len(f.callees()) >= 2 })
	for _, tc := range []struct {
		name string
		f    faults
	}{
		{"wrong edge", faults{wrongEdge: victim, missingBinding: -1}},
		{"missing binding", faults{wrongEdge: -1, missingBinding: victim}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := newBusAnalyzer(ctx, prog, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			want, err := Analyse(prog)
			if err != nil {
				t.Fatal(err)
			}
			diff, err := a.mismatch(want)
			if err != nil {
				t.Fatal(err)
			}
			if diff == "" {
				t.Fatalf("the checker did not notice the %s", tc.name)
			}
			t.Logf("caught: %s", diff)
		})
	}
}

// TestRunReport runs a small scenario end to end and checks the JSON the
// command prints.
func TestRunReport(t *testing.T) {
	cfg := config{Seed: 3, Funcs: 400, Edits: 10, Repeats: 1, Fractions: []float64{0.01, 0.5}}
	rep, err := run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal {
		t.Fatalf("bus and from-scratch analysis differ: %s", rep.Mismatch)
	}
	if rep.Edits != 1+10+2 || len(rep.Sweep) != 2 || rep.Pages != 1600 {
		t.Fatalf("report: %d states checked, %d sweep points, %d pages", rep.Edits, len(rep.Sweep), rep.Pages)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"equal", "incremental_ms", "full_ms", "speedup", "bookkeeping_ms", "compute_ms", "sweep"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
}

// TestTextFile analyses the hand-written program in testdata through the
// bus and checks a few facts by hand.
func TestTextFile(t *testing.T) {
	rep, err := run(context.Background(), config{Input: "testdata/small.ir", Edits: 5, Repeats: 1, Fractions: []float64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Equal || rep.Functions != 6 {
		t.Fatalf("equal=%v functions=%d: %s", rep.Equal, rep.Functions, rep.Mismatch)
	}
	f, err := os.Open("testdata/small.ir")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := Parse(f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Analyse(p)
	if err != nil {
		t.Fatal(err)
	}
	// Deepest stack main -> parse -> alloc (64 + 48 + 128) ties with main ->
	// eval -> fold -> alloc (64 + 32 + 16 + 128), the longest chain (4).
	if stack, chain := binary.LittleEndian.Uint64(r.Depth[0]), binary.LittleEndian.Uint64(r.Depth[0][8:]); stack != 240 || chain != 4 {
		t.Errorf("main: stack %d chain %d, want 240 and 4", stack, chain)
	}
	// fold = 2 + 3 + alloc(40), constant and pure.
	if fl, v := r.Facts[4][0], int64(binary.LittleEndian.Uint64(r.Facts[4][8:])); fl != factConst|factPure || v != 45 {
		t.Errorf("fold: flags %b value %d, want constant, pure, 45", fl, v)
	}
	// parse has an arg (not constant), lex a store (not pure): main is neither.
	if r.Facts[0][0] != 0 {
		t.Errorf("main: flags %b, want neither constant nor pure", r.Facts[0][0])
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       error
		mention    string
	}{
		{"ok", "func a frame=8\n  call b\nend\nfunc b frame=8\n  const -3\nend\n", nil, ""},
		{"unknown callee", "func a frame=8\n  call nope\nend\n", ErrUnknownFunc, `"nope"`},
		{"duplicate", "func a frame=8\nend\nfunc a frame=8\nend\n", ErrDuplicateFunc, "line 3"},
		{"recursion", "func a frame=8\n  call b\nend\nfunc b frame=8\n  call a\nend\n", ErrRecursion, "a -> b -> a"},
		{"self call", "func a frame=8\n  call a\nend\n", ErrRecursion, "a -> a"},
		{"missing end", "func a frame=8\n  const 1\n", ErrSyntax, "missing end"},
		{"outside", "const 1\n", ErrSyntax, "line 1"},
		{"bad frame", "func a frame=-1\nend\n", ErrSyntax, "frame"},
		{"bad constant", "func a frame=8\n  const x\nend\n", ErrSyntax, `"x"`},
		{"bad name", "func 9a frame=8\nend\n", ErrSyntax, "name"},
		{"unknown op", "func a frame=8\n  jump b\nend\n", ErrSyntax, "jump"},
		{"too long", "func a frame=8\n" + strings.Repeat("  arg\n", MaxInstrs+1) + "end\n", ErrTooLong, "more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.text))
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("got %v, want %v mentioning %s", err, tc.want, tc.mention)
			}
		})
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	p := Generate(11, 500)
	var buf bytes.Buffer
	if err := Format(&buf, p); err != nil {
		t.Fatal(err)
	}
	q, err := Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !programsEqual(p, q) {
		t.Fatal("Parse(Format(p)) != p")
	}
}

func programsEqual(p, q *Program) bool {
	return slices.EqualFunc(p.Funcs, q.Funcs, func(a, b Function) bool {
		return a.Name == b.Name && a.Frame == b.Frame && slices.Equal(a.Body, b.Body)
	})
}

// FuzzParse: the decoder never panics, and whatever it accepts formats and
// parses back to the same program.
func FuzzParse(f *testing.F) {
	f.Add("func a frame=8\n  call b\n  arg\n  store\nend\nfunc b frame=8\n  const -3\nend\n")
	f.Add("func a frame=8\n  call a\nend\n")
	f.Add("# c\n\nfunc x.y frame=0\nend\n")
	if b, err := os.ReadFile("testdata/small.ir"); err == nil {
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Format(&buf, p); err != nil {
			t.Fatal(err)
		}
		q, err := Parse(&buf)
		if err != nil {
			t.Fatalf("formatted program does not parse: %v", err)
		}
		if !programsEqual(p, q) {
			t.Fatal("round trip changed the program")
		}
	})
}

// TestRunRejectsBadConfig guards the command's flags: a negative or huge
// --funcs, a --repeats below 1 or a negative --edits must be refused with
// ErrBadFlag naming the flag. Before, --funcs -1 and --repeats 0 panicked
// (exit status 2, the status of a failed comparison), a huge --funcs ran
// out of memory (the reach pages grow with the square of the functions)
// and --edits -1 silently ran no edits.
func TestRunRejectsBadConfig(t *testing.T) {
	base := config{Seed: 1, Funcs: 20, Edits: 2, Repeats: 1, Fractions: []float64{0.5}}
	for _, tc := range []struct {
		name    string
		edit    func(*config)
		mention string
	}{
		{"negative funcs", func(c *config) { c.Funcs = -1 }, "--funcs"},
		{"zero funcs", func(c *config) { c.Funcs = 0 }, "--funcs"},
		{"huge funcs", func(c *config) { c.Funcs = math.MaxInt }, "--funcs"},
		{"negative edits", func(c *config) { c.Edits = -1 }, "--edits"},
		{"zero repeats", func(c *config) { c.Repeats = 0 }, "--repeats"},
		{"negative repeats", func(c *config) { c.Repeats = -1 }, "--repeats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			_, err := run(context.Background(), cfg)
			if !errors.Is(err, ErrBadFlag) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("got %v, want ErrBadFlag mentioning %s", err, tc.mention)
			}
		})
	}
	if _, err := run(context.Background(), base); err != nil {
		t.Fatalf("the valid base config: %v", err)
	}
}

// fillReader yields n bytes of comment lines, then EOF, without holding
// them in memory.
type fillReader struct{ n int }

func (r *fillReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = '#'
		if (r.n-i)%64 == 1 {
			p[i] = '\n'
		}
	}
	r.n -= k
	return k, nil
}

// TestParseRefusesTooLarge guards the size limits of Parse: an input over
// 64 MiB and a program of more than MaxFuncs functions are refused with
// ErrTooLarge. Before, the input was cut at 64 MiB without a word, so a
// large file parsed as a shorter program (here: the function after the
// padding vanished), and any number of functions was accepted, whose reach
// pages (one bit per function each) need memory in the square of it.
func TestParseRefusesTooLarge(t *testing.T) {
	head := "func a frame=8\nend\n"
	tail := "func b frame=8\n  call a\nend\n"
	big := io.MultiReader(strings.NewReader(head), &fillReader{n: maxTextBytes}, strings.NewReader(tail))
	if p, err := Parse(big); !errors.Is(err, ErrTooLarge) {
		funcs := -1
		if p != nil {
			funcs = len(p.Funcs)
		}
		t.Fatalf("input over %d bytes: got %v (%d functions), want ErrTooLarge", maxTextBytes, err, funcs)
	}
	var many strings.Builder
	for i := range MaxFuncs + 1 {
		fmt.Fprintf(&many, "func f%d frame=8\nend\n", i)
	}
	if _, err := Parse(strings.NewReader(many.String())); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "functions") {
		t.Fatalf("%d functions: got %v, want ErrTooLarge", MaxFuncs+1, err)
	}
	// Exactly at the limits is fine.
	exact := io.MultiReader(strings.NewReader(head), &fillReader{n: maxTextBytes - len(head) - len(tail)}, strings.NewReader(tail))
	if p, err := Parse(exact); err != nil || len(p.Funcs) != 2 {
		t.Fatalf("input of exactly %d bytes: %v", maxTextBytes, err)
	}
}

// TestErrorLineOnePrefix: the command's error line names the command
// once. Its sentinel errors carry the "compiler-ir:" prefix (they also
// surface inside mmsb's errors), and main used to add another:
// "compiler-ir: compiler-ir: bad flag value: --funcs 0: ...".
func TestErrorLineOnePrefix(t *testing.T) {
	compilerIR.CheckErrorLines(t, errorLine,
		fmt.Errorf("%w: --funcs 0: want 1 to %d", ErrBadFlag, MaxFuncs),
		fmt.Errorf("prog.ir: %w", ErrRecursion),
		errors.New("open prog.ir: no such file or directory"),
	)
}

// TestParseReadErrors: a reader that fails is reported as its own error,
// not as ErrSyntax ("syntax error: line 1: read prog.ir: is a directory"
// before, for --input naming a directory); a line over the scanner's limit
// is still ErrSyntax, naming the line.
func TestParseReadErrors(t *testing.T) {
	readFailed := errors.New("disk on fire")
	for _, tc := range []struct {
		name    string
		r       io.Reader
		want    error
		notWant error
		mention string
	}{
		{"reader fails", io.MultiReader(strings.NewReader("func a frame=8\nend\n"), iotest.ErrReader(readFailed)), readFailed, ErrSyntax, "after line 2"},
		{"line too long", strings.NewReader("func a frame=8\n  const " + strings.Repeat("1", maxLineBytes) + "\nend\n"), ErrSyntax, nil, "line 2: longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.r)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("got %v, want %v mentioning %q", err, tc.want, tc.mention)
			}
			if tc.notWant != nil && errors.Is(err, tc.notWant) {
				t.Fatalf("got %v, which is %v: the text was never at fault", err, tc.notWant)
			}
		})
	}
}

// TestTableWithoutSingleEdits: with --edits 0 nothing times a single edit,
// and the table says so; it printed a row of medians of nothing as
// measurements ("0.000 ... 0.0×"). The run with edits is the negative
// control: its row is there.
func TestTableWithoutSingleEdits(t *testing.T) {
	for _, tc := range []struct {
		edits   int
		want    string
		notWant string
	}{
		{0, "none timed (--edits 0)", "median of the single edits"},
		{2, "median of the single edits", "none timed"},
	} {
		t.Run(fmt.Sprint("edits=", tc.edits), func(t *testing.T) {
			rep, err := run(context.Background(), config{Seed: 1, Funcs: 20, Edits: tc.edits, Repeats: 1, Fractions: []float64{0.5}})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			printTable(&b, rep)
			if out := b.String(); !strings.Contains(out, tc.want) || strings.Contains(out, tc.notWant) {
				t.Fatalf("--edits %d table:\n%s\nwant %q and no %q", tc.edits, out, tc.want, tc.notWant)
			}
		})
	}
}

// TestSweepReportsFractionEdited: a sweep point's fraction is the share of
// the functions its commits edited. At least one function is edited, so on
// a program of 10 functions the swept 0.02% edits 1 of 10: 10%, which the
// table, the chart and crossover_fraction reported as 0.02%. On 5,000
// functions (the default) the two agree, as the 0.5 point does here.
func TestSweepReportsFractionEdited(t *testing.T) {
	rep, err := run(context.Background(), config{Seed: 1, Funcs: 10, Edits: 0, Repeats: 1, Fractions: []float64{0.0002, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		edited   int
		fraction float64
	}{{1, 0.1}, {5, 0.5}}
	if len(rep.Sweep) != len(want) {
		t.Fatalf("%d sweep points, want %d", len(rep.Sweep), len(want))
	}
	for i, w := range want {
		if sp := rep.Sweep[i]; sp.Edited != w.edited || sp.Fraction != w.fraction {
			t.Errorf("sweep point %d: %d functions edited, fraction %v; want %d, %v", i, sp.Edited, sp.Fraction, w.edited, w.fraction)
		}
	}
	if c := rep.Crossover; c != 0 && c != 0.1 && c != 0.5 {
		t.Errorf("crossover_fraction %v, want one of the fractions edited (0.1, 0.5) or 0", c)
	}
}
