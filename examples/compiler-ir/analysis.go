package main

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Three analyses per function, each a derived page whose parents are the
// function's IR page and the same analysis's pages of its distinct callees
// (ascending). Each is a fold over the callees in one semiring:
//
//	reach  (Boolean: OR of AND):    reach(f) = {f} ∪ ⋃ reach(c)          bitset, one bit per function
//	depth  (max-plus: max of +):    stack(f) = frame(f) + max stack(c);  chain(f) = 1 + max chain(c)
//	facts  (constant lattice):      const(f) = no arg ∧ ∀c const(c);     pure(f) = no store ∧ ∀c pure(c)
//	                                value(f) = Σ const + Σ_calls value(c) (wrapping), 0 unless const

// Sizes of the analysis pages (reach: one bit per function, rounded up).
const (
	depthPageSize = 16 // stack depth i64, call chain length i64
	factsPageSize = 16 // flags u8 (bit 0 constant, bit 1 pure), 7 zero bytes, value i64
)

func reachPageSize(n int) int { return (n + 7) / 8 }

const (
	factConst = 1 << 0
	factPure  = 1 << 1
)

// Names of the recompute functions registered with the bus.
const (
	fnReach = "cir.reach"
	fnDepth = "cir.depth"
	fnFacts = "cir.facts"
)

// computeTimer accumulates the time spent inside recompute functions, so that
// the propagation's bookkeeping (ordering, input copies, diffs, logging) can
// be reported apart from the analyses' own work. It reads the clock only; it
// does not influence any output.
type computeTimer struct {
	total time.Duration
	calls int
}

// functions returns the recompute functions of the three analyses, timed by t.
func (t *computeTimer) functions() map[string]func(inputs [][]byte, params []byte, out []byte) error {
	timed := func(fn func(inputs [][]byte, params []byte, out []byte) error) func(inputs [][]byte, params []byte, out []byte) error {
		return func(inputs [][]byte, params []byte, out []byte) error {
			start := time.Now()
			err := fn(inputs, params, out)
			t.total += time.Since(start)
			t.calls++
			return err
		}
	}
	return map[string]func(inputs [][]byte, params []byte, out []byte) error{
		fnReach: timed(recomputeReach),
		fnDepth: timed(recomputeDepth),
		fnFacts: timed(recomputeFacts),
	}
}

// reachParams encodes the function's own index, the one bit reach sets
// besides its callees'.
func reachParams(f int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(f)) }

func recomputeReach(inputs [][]byte, params []byte, out []byte) error {
	if len(params) != 4 {
		return fmt.Errorf("%w: reach params are %d bytes, want 4", ErrBadPage, len(params))
	}
	self := int(binary.LittleEndian.Uint32(params))
	if self/8 >= len(out) {
		return fmt.Errorf("%w: function %d outside a %d-byte reach page", ErrBadPage, self, len(out))
	}
	clear(out)
	out[self/8] |= 1 << (self % 8)
	for _, in := range inputs[1:] { // inputs[0] is the IR page
		for i := range min(len(in), len(out)) {
			out[i] |= in[i]
		}
	}
	return nil
}

func recomputeDepth(inputs [][]byte, _ []byte, out []byte) error {
	if len(inputs) == 0 || len(out) != depthPageSize {
		return fmt.Errorf("%w: depth wants an IR page and a %d-byte output", ErrBadPage, depthPageSize)
	}
	ir := irView(inputs[0])
	if _, err := ir.count(); err != nil {
		return err
	}
	var stack, chain int64
	for _, in := range inputs[1:] {
		if len(in) != depthPageSize {
			return fmt.Errorf("%w: callee depth page of %d bytes", ErrBadPage, len(in))
		}
		stack = max(stack, int64(binary.LittleEndian.Uint64(in)))
		chain = max(chain, int64(binary.LittleEndian.Uint64(in[8:])))
	}
	binary.LittleEndian.PutUint64(out, uint64(stack+int64(ir.frame())))
	binary.LittleEndian.PutUint64(out[8:], uint64(chain+1))
	return nil
}

func recomputeFacts(inputs [][]byte, _ []byte, out []byte) error {
	if len(inputs) == 0 || len(out) != factsPageSize {
		return fmt.Errorf("%w: facts wants an IR page and a %d-byte output", ErrBadPage, factsPageSize)
	}
	ir := irView(inputs[0])
	n, err := ir.count()
	if err != nil {
		return err
	}
	// Parents after the IR page are the distinct callees, ascending: map a
	// call's callee index to its input by walking the sorted list.
	var callees [MaxInstrs]int64
	nc := 0
	for i := range n {
		if in := ir.instr(i); in.Op == OpCall {
			callees[nc] = in.Arg
			nc++
		}
	}
	distinct := sortedDistinct(callees[:nc])
	if len(distinct) != len(inputs)-1 {
		return fmt.Errorf("%w: %d distinct callees but %d callee inputs", ErrBadPage, len(distinct), len(inputs)-1)
	}
	flags := byte(factConst | factPure)
	var value int64
	for i := range n {
		switch in := ir.instr(i); in.Op {
		case OpConst:
			value += in.Arg
		case OpArg:
			flags &^= factConst
		case OpStore:
			flags &^= factPure
		case OpCall:
			c := inputs[1+indexOf(distinct, in.Arg)]
			if len(c) != factsPageSize {
				return fmt.Errorf("%w: callee facts page of %d bytes", ErrBadPage, len(c))
			}
			flags &= c[0] | ^byte(factConst|factPure)
			value += int64(binary.LittleEndian.Uint64(c[8:]))
		default:
			return fmt.Errorf("%w: instruction %d has op %d", ErrBadPage, i, in.Op)
		}
	}
	clear(out)
	out[0] = flags
	if flags&factConst != 0 {
		binary.LittleEndian.PutUint64(out[8:], uint64(value))
	}
	return nil
}

// sortedDistinct sorts s in place (insertion sort: bodies are short) and
// drops repeats.
func sortedDistinct(s []int64) []int64 {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func indexOf(s []int64, v int64) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1 // unreachable: v came from the same list
}

// Results are the three analysis pages of every function, byte for byte as
// the bus holds them.
type Results struct {
	Reach, Depth, Facts [][]byte
}

// Analyse computes every function's results from scratch, in plain Go on the
// Program (no bus, no pages): a walk of the functions in topological order,
// callees first. It is the baseline the bus must match byte for byte.
func Analyse(p *Program) (*Results, error) {
	order, err := p.TopoOrder()
	if err != nil {
		return nil, err
	}
	n := len(p.Funcs)
	rs := reachPageSize(n)
	r := &Results{Reach: make([][]byte, n), Depth: make([][]byte, n), Facts: make([][]byte, n)}
	reachBuf := make([]byte, n*rs)
	small := make([]byte, n*(depthPageSize+factsPageSize))
	stack := make([]int64, n)
	chain := make([]int64, n)
	isConst := make([]bool, n)
	isPure := make([]bool, n)
	value := make([]int64, n)
	for _, f := range order {
		fn := &p.Funcs[f]
		reach := reachBuf[f*rs : (f+1)*rs]
		reach[f/8] |= 1 << (f % 8)
		var maxStack, maxChain int64
		c, pure, v := true, true, int64(0)
		for _, in := range fn.Body {
			switch in.Op {
			case OpConst:
				v += in.Arg
			case OpArg:
				c = false
			case OpStore:
				pure = false
			case OpCall:
				callee := int(in.Arg)
				for i, b := range reachBuf[callee*rs : (callee+1)*rs] {
					reach[i] |= b
				}
				maxStack = max(maxStack, stack[callee])
				maxChain = max(maxChain, chain[callee])
				c = c && isConst[callee]
				pure = pure && isPure[callee]
				v += value[callee]
			}
		}
		stack[f], chain[f] = maxStack+int64(fn.Frame), maxChain+1
		isConst[f], isPure[f], value[f] = c, pure, v
		depth := small[f*(depthPageSize+factsPageSize):][:depthPageSize]
		binary.LittleEndian.PutUint64(depth, uint64(stack[f]))
		binary.LittleEndian.PutUint64(depth[8:], uint64(chain[f]))
		facts := small[f*(depthPageSize+factsPageSize)+depthPageSize:][:factsPageSize]
		if c {
			facts[0] |= factConst
			binary.LittleEndian.PutUint64(facts[8:], uint64(v))
		}
		if pure {
			facts[0] |= factPure
		}
		r.Reach[f], r.Depth[f], r.Facts[f] = reach, depth, facts
	}
	return r, nil
}
