package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// The IR: a program is a list of functions; a function has a frame size and a
// body of instructions. The body is deliberately tiny, just enough for three
// analyses that follow the call graph:
//
//	const V   adds the constant V to the return value
//	arg       adds an argument (unknown at compile time: not constant)
//	store     writes memory (the function is not pure)
//	call F    adds F's return value (F's facts and depth flow into the caller)
//
// The return value is the wrapping int64 sum of the const values, arguments
// and callee results; a function is constant when it has no arg and every
// callee is constant, pure when it has no store and every callee is pure.

// Op is an instruction's operation.
type Op uint8

// Operations. The zero Op is invalid so that a zeroed page decodes as empty.
const (
	OpConst Op = 1
	OpArg   Op = 2
	OpStore Op = 3
	OpCall  Op = 4
)

// Instr is one instruction. Arg is the constant (OpConst) or the callee's
// index in Program.Funcs (OpCall).
type Instr struct {
	Op  Op
	Arg int64
}

// Function is one function of a program.
type Function struct {
	Name  string
	Frame uint32 // stack frame size in bytes
	Body  []Instr
}

// Program is a whole program. Its call graph must be acyclic: the bus refuses
// a dependency cycle (ErrCycle), so recursion is rejected when a program is
// read (ErrRecursion) and the generator only calls functions with a higher
// index.
type Program struct {
	Funcs []Function
}

// Layout of a function's IR page: frame (u32), instruction count (u16), then
// count instructions of 9 bytes each (op u8, arg i64), little-endian, the rest
// zero.
const (
	irPageSize   = 512
	irHeaderSize = 6
	instrSize    = 9
	// MaxInstrs is the most instructions one function may have (what fits in
	// one IR page).
	MaxInstrs = (irPageSize - irHeaderSize) / instrSize
)

// MaxFuncs is the most functions a program may have. Every function's
// reach page holds one bit per function, so the bus and the from-scratch
// analysis each need about N²/8 bytes: 50 MB at this limit, four times the
// default --funcs.
const MaxFuncs = 20000

// Errors of the text format and of IR pages.
var (
	// ErrSyntax: a line of the text format that does not parse.
	ErrSyntax = errors.New("syntax error")
	// ErrUnknownFunc: a call to a function the program does not define.
	ErrUnknownFunc = errors.New("call to an undefined function")
	// ErrDuplicateFunc: two functions with the same name.
	ErrDuplicateFunc = errors.New("function defined twice")
	// ErrRecursion: the call graph has a cycle (MMSB dependency graphs are
	// acyclic; see README "Recursion").
	ErrRecursion = errors.New("recursive call cycle")
	// ErrTooLong: a function with more than MaxInstrs instructions.
	ErrTooLong = errors.New("function body too long")
	// ErrTooLarge: a program text over 64 MiB, or a program of more than
	// MaxFuncs functions.
	ErrTooLarge = errors.New("program too large")
	// ErrBadPage: an IR page that does not decode.
	ErrBadPage = errors.New("malformed IR page")
)

// appendIRPage appends f's IR page (irPageSize bytes) to dst.
func appendIRPage(dst []byte, f *Function) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, f.Frame)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(f.Body)))
	for _, in := range f.Body {
		dst = append(dst, byte(in.Op))
		dst = binary.LittleEndian.AppendUint64(dst, uint64(in.Arg))
	}
	for len(dst)-start < irPageSize {
		dst = append(dst, 0)
	}
	return dst
}

// irView reads an IR page in place.
type irView []byte

func (v irView) frame() uint32 { return binary.LittleEndian.Uint32(v) }

// count returns the number of instructions, or an error if the page is
// malformed.
func (v irView) count() (int, error) {
	if len(v) < irHeaderSize {
		return 0, fmt.Errorf("%w: %d bytes", ErrBadPage, len(v))
	}
	n := int(binary.LittleEndian.Uint16(v[4:]))
	if irHeaderSize+n*instrSize > len(v) {
		return 0, fmt.Errorf("%w: %d instructions do not fit in %d bytes", ErrBadPage, n, len(v))
	}
	return n, nil
}

func (v irView) instr(i int) Instr {
	o := irHeaderSize + i*instrSize
	return Instr{Op: Op(v[o]), Arg: int64(binary.LittleEndian.Uint64(v[o+1:]))}
}

// callees returns f's distinct callees, ascending: the order of the derived
// pages' parents after the IR page.
func (f *Function) callees() []int {
	var cs []int
	for _, in := range f.Body {
		if in.Op == OpCall {
			cs = append(cs, int(in.Arg))
		}
	}
	slices.Sort(cs)
	return slices.Compact(cs)
}

// Clone returns a deep copy of p, so that a model can be edited while another
// copy is kept.
func (p *Program) Clone() *Program {
	q := &Program{Funcs: make([]Function, len(p.Funcs))}
	for i, f := range p.Funcs {
		q.Funcs[i] = Function{Name: f.Name, Frame: f.Frame, Body: slices.Clone(f.Body)}
	}
	return q
}

// Generate returns a program of n functions drawn from seed. Function i calls
// only functions with a higher index, mostly nearby ones (modules) and now
// and then far ones (libraries), so the call graph is acyclic by
// construction and deep.
func Generate(seed uint64, n int) *Program {
	rng := rand.New(rand.NewPCG(seed, 0x6d6d7362)) //nolint:gosec // a reproducible workload, not a secret
	p := &Program{Funcs: make([]Function, n)}
	for i := range p.Funcs {
		f := &p.Funcs[i]
		f.Name = "f" + strconv.Itoa(i)
		f.Frame = uint32(16 + 8*rng.IntN(32))
		for range 1 + rng.IntN(4) {
			f.Body = append(f.Body, Instr{Op: OpConst, Arg: int64(rng.IntN(100))})
		}
		if rng.IntN(8) == 0 {
			f.Body = append(f.Body, Instr{Op: OpArg})
		}
		if rng.IntN(10) == 0 {
			f.Body = append(f.Body, Instr{Op: OpStore})
		}
		for range rng.IntN(4) {
			if c, ok := randomCallee(rng, i, n); ok {
				f.Body = append(f.Body, Instr{Op: OpCall, Arg: int64(c)})
			}
		}
	}
	return p
}

// randomCallee picks a callee for function i among i+1..n-1: nearby with
// probability 7/8, anywhere above otherwise.
func randomCallee(rng *rand.Rand, i, n int) (int, bool) {
	if i+1 >= n {
		return 0, false
	}
	if rng.IntN(8) != 0 {
		return min(n-1, i+1+rng.IntN(20)), true
	}
	return i + 1 + rng.IntN(n-i-1), true
}

// Format writes p in the text format read by Parse.
func Format(w io.Writer, p *Program) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# mmsb compiler-ir v1: %d functions\n", len(p.Funcs))
	for _, f := range p.Funcs {
		fmt.Fprintf(bw, "func %s frame=%d\n", f.Name, f.Frame)
		for _, in := range f.Body {
			switch in.Op {
			case OpConst:
				fmt.Fprintf(bw, "  const %d\n", in.Arg)
			case OpArg:
				fmt.Fprintf(bw, "  arg\n")
			case OpStore:
				fmt.Fprintf(bw, "  store\n")
			case OpCall:
				fmt.Fprintf(bw, "  call %s\n", p.Funcs[in.Arg].Name)
			}
		}
		fmt.Fprintf(bw, "end\n")
	}
	return bw.Flush()
}

// maxTextBytes bounds what Parse reads, so that a hostile file cannot make it
// allocate without limit.
const maxTextBytes = 64 << 20

// maxLineBytes bounds one line of the text format; a longer one is
// ErrSyntax.
const maxLineBytes = 1 << 20

// Parse reads a program in the text format (README "Text format"): blank
// lines and lines starting with # are ignored; each function is
//
//	func NAME frame=N
//	  const V | arg | store | call NAME   (at most MaxInstrs lines)
//	end
//
// Calls may name functions defined later. Errors name the line and wrap
// ErrSyntax, ErrUnknownFunc, ErrDuplicateFunc, ErrTooLong or ErrRecursion;
// an input over 64 MiB or of more than MaxFuncs functions is refused with
// ErrTooLarge. An error of r itself is returned wrapped, as no ErrSyntax.
func Parse(r io.Reader) (*Program, error) {
	// Read one byte past the limit so that a larger input is refused
	// rather than cut: io.LimitReader alone ended the input silently at the
	// limit, and a file cut between two functions parsed as a shorter
	// program. An input over the limit is refused whatever parse made of
	// its cut last line.
	lr := &io.LimitedReader{R: r, N: maxTextBytes + 1}
	p, err := parse(lr)
	if lr.N == 0 {
		return nil, fmt.Errorf("%w: the input is over %d bytes", ErrTooLarge, maxTextBytes)
	}
	return p, err
}

func parse(r io.Reader) (*Program, error) {
	type pendingCall struct {
		fn, instr, line int
		name            string
	}
	p := &Program{}
	index := map[string]int{}
	var calls []pendingCall
	cur := -1 // function being read, -1 between functions
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: line %d: %s", ErrSyntax, line, fmt.Sprintf(format, args...))
		}
		switch {
		case fields[0] == "func":
			if cur >= 0 {
				return nil, bad("func inside function %q (missing end)", p.Funcs[cur].Name)
			}
			if len(fields) != 3 || !strings.HasPrefix(fields[2], "frame=") {
				return nil, bad("want \"func NAME frame=N\", got %q", sc.Text())
			}
			if !validName(fields[1]) {
				return nil, bad("bad function name %q (letters, digits, _ and ., not starting with a digit)", fields[1])
			}
			if _, dup := index[fields[1]]; dup {
				return nil, fmt.Errorf("%w: line %d: %q", ErrDuplicateFunc, line, fields[1])
			}
			frame, err := strconv.ParseUint(strings.TrimPrefix(fields[2], "frame="), 10, 32)
			if err != nil {
				return nil, bad("bad frame size %q", fields[2])
			}
			if len(p.Funcs) == MaxFuncs {
				return nil, fmt.Errorf("%w: line %d: more than %d functions", ErrTooLarge, line, MaxFuncs)
			}
			index[fields[1]] = len(p.Funcs)
			cur = len(p.Funcs)
			p.Funcs = append(p.Funcs, Function{Name: fields[1], Frame: uint32(frame)})
		case cur < 0:
			return nil, bad("%q outside a function", fields[0])
		case fields[0] == "end" && len(fields) == 1:
			cur = -1
		default:
			f := &p.Funcs[cur]
			if len(f.Body) == MaxInstrs {
				return nil, fmt.Errorf("%w: line %d: %q has more than %d instructions", ErrTooLong, line, f.Name, MaxInstrs)
			}
			switch {
			case fields[0] == "const" && len(fields) == 2:
				v, err := strconv.ParseInt(fields[1], 10, 64)
				if err != nil {
					return nil, bad("bad constant %q", fields[1])
				}
				f.Body = append(f.Body, Instr{Op: OpConst, Arg: v})
			case fields[0] == "arg" && len(fields) == 1:
				f.Body = append(f.Body, Instr{Op: OpArg})
			case fields[0] == "store" && len(fields) == 1:
				f.Body = append(f.Body, Instr{Op: OpStore})
			case fields[0] == "call" && len(fields) == 2:
				calls = append(calls, pendingCall{fn: cur, instr: len(f.Body), line: line, name: fields[1]})
				f.Body = append(f.Body, Instr{Op: OpCall})
			default:
				return nil, bad("unknown instruction %q (want const V, arg, store, call NAME or end)", sc.Text())
			}
		}
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("%w: line %d: longer than %d bytes", ErrSyntax, line+1, maxLineBytes)
	} else if err != nil {
		// The reader failed (a directory, an I/O error): the text itself
		// may be fine, so this is no ErrSyntax ("syntax error: line 1:
		// read prog.ir: is a directory" before).
		return nil, fmt.Errorf("reading the program after line %d: %w", line, err)
	}
	if cur >= 0 {
		return nil, fmt.Errorf("%w: end of input inside function %q (missing end)", ErrSyntax, p.Funcs[cur].Name)
	}
	for _, c := range calls {
		callee, ok := index[c.name]
		if !ok {
			return nil, fmt.Errorf("%w: line %d: %q calls %q", ErrUnknownFunc, c.line, p.Funcs[c.fn].Name, c.name)
		}
		p.Funcs[c.fn].Body[c.instr].Arg = int64(callee)
	}
	if _, err := p.TopoOrder(); err != nil {
		return nil, err
	}
	return p, nil
}

func validName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != "" && len(s) <= 128
}

// TopoOrder returns the functions callees first (every callee before its
// callers), ties by index, or an error wrapping ErrRecursion that names a
// cycle.
func (p *Program) TopoOrder() ([]int, error) {
	n := len(p.Funcs)
	callers := make([][]int, n)
	pending := make([]int, n) // distinct callees not yet ordered
	for i := range p.Funcs {
		for _, c := range p.Funcs[i].callees() {
			if c < 0 || c >= n {
				return nil, fmt.Errorf("%w: %q calls function index %d of %d", ErrUnknownFunc, p.Funcs[i].Name, c, n)
			}
			callers[c] = append(callers[c], i)
			pending[i]++
		}
	}
	order := make([]int, 0, n)
	for i := range n {
		if pending[i] == 0 {
			order = append(order, i)
		}
	}
	for k := 0; k < len(order); k++ {
		for _, caller := range callers[order[k]] {
			if pending[caller]--; pending[caller] == 0 {
				order = append(order, caller)
			}
		}
	}
	if len(order) < n {
		return nil, fmt.Errorf("%w: %s", ErrRecursion, p.describeCycle(pending))
	}
	return order, nil
}

// describeCycle names one cycle among the functions left unordered
// (pending > 0): walk callees that are themselves unordered until one
// repeats.
func (p *Program) describeCycle(pending []int) string {
	start := slices.IndexFunc(pending, func(k int) bool { return k > 0 })
	seenAt := map[int]int{}
	var path []int
	for at := start; ; {
		if k, ok := seenAt[at]; ok {
			names := make([]string, 0, len(path)-k+1)
			for _, f := range path[k:] {
				names = append(names, p.Funcs[f].Name)
			}
			return strings.Join(append(names, p.Funcs[at].Name), " -> ")
		}
		seenAt[at] = len(path)
		path = append(path, at)
		next := -1
		for _, c := range p.Funcs[at].callees() {
			if pending[c] > 0 {
				next = c
				break
			}
		}
		at = next // an unordered function always has an unordered callee
	}
}
