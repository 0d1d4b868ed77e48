package delta

import (
	"fmt"
	"slices"
	"sort"
)

// seg is one resolved write: data lands at [off, off+len(data)). Lists of
// segs are kept sorted by offset and disjoint; data aliases the source delta
// until build copies it out.
type seg struct {
	off  uint32
	data []byte
}

func (s seg) end() uint64 { return uint64(s.off) + uint64(len(s.data)) }

// addrSpace is the number of page positions a uint32 offset can name.
const addrSpace = 1 << 32

// runSeg returns r as a segment without its bytes at positions addrSpace
// and beyond: no offset, range or mask can name them, and a segment
// reaching past addrSpace would split into pieces whose offsets wrap,
// breaking the sorted order everything below relies on. Validate refuses
// such runs; the algebra drops those bytes so that it stays defined.
func runSeg(r *Run) seg {
	s := seg{r.Offset, r.Data}
	if s.end() > addrSpace {
		s.data = s.data[:addrSpace-uint64(r.Offset)]
	}
	return s
}

// headTo keeps the part of s before position p (s.off < p < s.end()).
func (s seg) headTo(p uint64) seg { return seg{s.off, s.data[:p-uint64(s.off)]} }

// tailFrom keeps the part of s from position p on (s.off < p < s.end()).
func (s seg) tailFrom(p uint64) seg { return seg{uint32(p), s.data[p-uint64(s.off):]} }

// runsSorted reports whether the non-empty runs are in ascending offset
// order and pairwise disjoint: the shape that needs no resolving.
func runsSorted(runs []Run) bool {
	var prevEnd uint64
	for i := range runs {
		r := &runs[i]
		if len(r.Data) == 0 {
			continue
		}
		if uint64(r.Offset) < prevEnd {
			return false
		}
		prevEnd = runSeg(r).end()
	}
	return true
}

// insertRunsMax is the most unsorted runs resolveRuns inserts one by one;
// more are resolved by resolveSweep.
const insertRunsMax = 64

// resolveRuns appends to dst the sorted, disjoint segments that applying
// runs in order produces (later runs win). Already sorted input costs one
// pass; otherwise each run is inserted into the sorted list, replacing what
// it covers, which is O(n log n) searching plus memmove per insertion: fine
// for the tens of runs real deltas carry, and allocation-free for up to 16
// pieces. More than insertRunsMax unsorted runs go to resolveSweep: the
// memmoves made insertion quadratic, and one logged delta of a million
// runs in descending order (a valid delta, well within a log record) took
// hours in every Ranges, Normalize or Merge of it. Runs are clipped at
// addrSpace (runSeg).
func resolveRuns(runs []Run, dst []seg) []seg {
	base := len(dst)
	if runsSorted(runs) {
		for i := range runs {
			if s := runSeg(&runs[i]); len(s.data) > 0 {
				dst = append(dst, s)
			}
		}
		return dst
	}
	if len(runs) > insertRunsMax {
		return resolveSweep(runs, dst)
	}
	for ri := range runs {
		s := runSeg(&runs[ri])
		if len(s.data) == 0 {
			continue
		}
		o, e := uint64(s.off), s.end()
		segs := dst[base:]
		i := sort.Search(len(segs), func(k int) bool { return segs[k].end() > o })
		j := i + sort.Search(len(segs)-i, func(k int) bool { return uint64(segs[i+k].off) >= e })
		var repl [3]seg
		nr := 0
		if i < j && uint64(segs[i].off) < o {
			repl[nr] = segs[i].headTo(o)
			nr++
		}
		repl[nr] = s
		nr++
		if i < j && segs[j-1].end() > e {
			repl[nr] = segs[j-1].tailFrom(e)
			nr++
		}
		dst = slices.Replace(dst, base+i, base+j, repl[:nr]...)
	}
	return dst
}

// resolveSweep is resolveRuns for many unsorted runs, in O(n log n) time
// and O(n) space. The runs' starts and ends cut the positions into
// elementary pieces; the runs, latest first, each take the pieces within
// them that no later run took (next skips taken pieces, with path
// compression), and the pieces are then emitted in order, a stretch of
// pieces taken by one run as one segment of its data.
func resolveSweep(runs []Run, dst []seg) []seg {
	cuts := make([]uint64, 0, 2*len(runs))
	for i := range runs {
		if s := runSeg(&runs[i]); len(s.data) > 0 {
			cuts = append(cuts, uint64(s.off), s.end())
		}
	}
	if len(cuts) == 0 {
		return dst
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	pieces := len(cuts) - 1 // piece k is [cuts[k], cuts[k+1])
	owner := make([]int, pieces)
	next := make([]int, pieces+1) // next[k] leads to the first untaken piece >= k
	for k := range next {
		next[k] = k
	}
	for k := range owner {
		owner[k] = -1
	}
	find := func(k int) int {
		root := k
		for next[root] != root {
			root = next[root]
		}
		for next[k] != root {
			next[k], k = root, next[k]
		}
		return root
	}
	for ri := len(runs) - 1; ri >= 0; ri-- {
		s := runSeg(&runs[ri])
		if len(s.data) == 0 {
			continue
		}
		lo, _ := slices.BinarySearch(cuts, uint64(s.off))
		hi, _ := slices.BinarySearch(cuts, s.end())
		for k := find(lo); k < hi; k = find(k) {
			owner[k] = ri
			next[k] = k + 1
		}
	}
	for k := 0; k < pieces; {
		ri := owner[k]
		j := k + 1
		for j < pieces && owner[j] == ri {
			j++
		}
		if ri >= 0 {
			s := runSeg(&runs[ri])
			from, to := cuts[k]-uint64(s.off), cuts[j]-uint64(s.off)
			dst = append(dst, seg{uint32(cuts[k]), s.data[from:to]})
		}
		k = j
	}
	return dst
}

// segments appends d's effect to dst as sorted, disjoint segments aliasing
// d's data. It is defined for any d: masked deltas are read defensively (a
// mask shorter than MaskLen bits is read as far as it goes, a payload
// shorter than the mask demands ends the walk, extra payload is ignored),
// runs are clipped at addrSpace, and an unknown form writes nothing.
func segments(d *Delta, dst []seg) []seg {
	switch d.Form {
	case FormRuns:
		return resolveRuns(d.Runs, dst)
	case FormMaskedDense, FormMaskedSparse:
		it := bitRuns{mask: d.Mask, maskLen: d.MaskLen}
		p := uint64(0)
		base := len(dst)
		for {
			off, n, ok := it.next()
			if !ok {
				return dst
			}
			start := p
			if d.Form == FormMaskedDense {
				start = uint64(off)
			}
			end := start + uint64(n)
			if end > uint64(len(d.Payload)) {
				return dst
			}
			// Pieces split at word boundaries are rejoined here so that
			// the segment list is already maximal. In both forms the
			// previous piece's payload ends exactly at start.
			if k := len(dst) - 1; k >= base && dst[k].end() == uint64(off) {
				dst[k].data = d.Payload[start-uint64(len(dst[k].data)) : end]
			} else {
				dst = append(dst, seg{off, d.Payload[start:end]})
			}
			p = end
		}
	}
	return dst
}

// overlay appends to dst the segments of a with b laid over them (b wins
// where they overlap). Both inputs are sorted and disjoint, so one linear
// pass suffices and the output is sorted and disjoint too.
func overlay(dst, a, b []seg) []seg {
	i := 0
	var cur seg
	have := false
	for _, s := range b {
		for {
			if !have {
				if i == len(a) {
					break
				}
				cur, have = a[i], true
				i++
			}
			if uint64(cur.off) >= s.end() {
				break // cur lies wholly after s: keep it for later
			}
			if cur.end() <= uint64(s.off) {
				dst = append(dst, cur) // wholly before s
				have = false
				continue
			}
			if cur.off < s.off {
				dst = append(dst, cur.headTo(uint64(s.off)))
			}
			if cur.end() > s.end() {
				cur = cur.tailFrom(s.end())
				break
			}
			have = false
		}
		dst = append(dst, s)
	}
	if have {
		dst = append(dst, cur)
	}
	return append(dst, a[i:]...)
}

// build turns sorted, disjoint segments into a normalized FormRuns delta
// whose run data lives in one fresh buffer: the result owns its bytes and
// stays valid when the inputs' buffers are reused. Adjacent segments are
// coalesced, so the result is unique for a given effect.
func build(segs []seg) Delta {
	if len(segs) == 0 {
		return Delta{}
	}
	total, nruns := 0, 0
	var prevEnd uint64
	for k, s := range segs {
		total += len(s.data)
		if k == 0 || uint64(s.off) != prevEnd {
			nruns++
		}
		prevEnd = s.end()
	}
	buf := make([]byte, total)
	runs := make([]Run, 0, nruns)
	pos := 0
	for k, s := range segs {
		n := copy(buf[pos:], s.data)
		if k > 0 && uint64(s.off) == segs[k-1].end() {
			last := &runs[len(runs)-1]
			start := pos - len(last.Data)
			last.Data = buf[start : pos+n : pos+n]
		} else {
			runs = append(runs, Run{Offset: s.off, Data: buf[pos : pos+n : pos+n]})
		}
		pos += n
	}
	return Delta{Runs: runs}
}

// copyMeta copies every field of src except the payload-describing ones.
func copyMeta(dst, src *Delta) {
	dst.Page = src.Page
	dst.Source = src.Source
	dst.Intent = src.Intent
	dst.CheckEpoch = src.CheckEpoch
	dst.ExpectEpoch = src.ExpectEpoch
	dst.LSN = src.LSN
	dst.Epoch = src.Epoch
	dst.Time = src.Time
}

// Normalize returns d in canonical form: FormRuns, runs sorted by offset,
// non-overlapping, adjacent runs coalesced, later writes winning on overlap.
// Metadata fields (Page, Source, Intent, epochs, LSN, Time) are copied;
// Intent is shared, not cloned. The run data is a fresh copy, so the result
// does not alias d's buffers. A delta that writes nothing normalizes to one
// with nil Runs. It is defined for any d, valid or not: a masked delta is
// read only as far as its mask and payload allow (a sparse payload shorter
// than the mask's popcount, or a dense one shorter than a written position,
// ends the effect there; extra payload bytes are ignored), bytes of a run at
// positions 2^32 and beyond are dropped (no uint32 offset names them), and
// an unknown form writes nothing.
func Normalize(d *Delta) Delta {
	var stack [16]seg
	out := build(segments(d, stack[:0]))
	copyMeta(&out, d)
	return out
}

// Merge returns a ⊕ b: one delta whose effect equals applying a then b
// (b wins on overlap). Both must target the same page: deltas to different
// pages cannot be one delta, and the error wraps ErrPageMismatch. The result
// is normalized (and owns its data). Merge is associative and the empty
// delta is its identity as far as the written bytes go. Each side is read
// as Normalize reads it, so Merge is defined for invalid deltas too.
//
// Metadata (Page, Source, Intent, CheckEpoch, ExpectEpoch) come from a: the
// merged delta is checked against the epoch a expected. The commit-path
// fields (LSN, Epoch, Time) are left zero, since the merged delta has not
// been committed as such.
func Merge(a, b *Delta) (Delta, error) {
	if a.Page != b.Page {
		return Delta{}, fmt.Errorf("%w: merging a delta to page %d with one to page %d", ErrPageMismatch, a.Page, b.Page)
	}
	var sa, sb, so [16]seg
	out := build(overlay(so[:0], segments(a, sa[:0]), segments(b, sb[:0])))
	out.Page = a.Page
	out.Source = a.Source
	out.Intent = a.Intent
	out.CheckEpoch = a.CheckEpoch
	out.ExpectEpoch = a.ExpectEpoch
	return out, nil
}

// ToMaskedDense converts d to FormMaskedDense covering maskLen positions.
// maskLen must cover every written byte; otherwise the error wraps
// ErrOutOfRange. Unwritten payload positions are zero. Metadata is copied.
// d's effect is read as Normalize reads it, so any d converts without
// panicking; the result allocates maskLen payload bytes, whatever d writes.
func ToMaskedDense(d *Delta, maskLen uint32) (Delta, error) {
	var stack [16]seg
	segs, err := checkCovered(segments(d, stack[:0]), maskLen)
	if err != nil {
		return Delta{}, err
	}
	out := Delta{Form: FormMaskedDense, MaskLen: maskLen}
	out.Mask = make([]byte, maskBytes(maskLen))
	out.Payload = make([]byte, maskLen)
	for _, s := range segs {
		setBits(out.Mask, s.off, uint32(len(s.data)))
		copy(out.Payload[s.off:], s.data)
	}
	copyMeta(&out, d)
	return out, nil
}

// ToMaskedSparse converts d to FormMaskedSparse covering maskLen positions.
// maskLen must cover every written byte; otherwise the error wraps
// ErrOutOfRange. Metadata is copied. d's effect is read as Normalize reads
// it, so any d converts without panicking.
func ToMaskedSparse(d *Delta, maskLen uint32) (Delta, error) {
	var stack [16]seg
	segs, err := checkCovered(segments(d, stack[:0]), maskLen)
	if err != nil {
		return Delta{}, err
	}
	total := 0
	for _, s := range segs {
		total += len(s.data)
	}
	out := Delta{Form: FormMaskedSparse, MaskLen: maskLen}
	out.Mask = make([]byte, maskBytes(maskLen))
	out.Payload = make([]byte, 0, total)
	for _, s := range segs {
		setBits(out.Mask, s.off, uint32(len(s.data)))
		out.Payload = append(out.Payload, s.data...)
	}
	copyMeta(&out, d)
	return out, nil
}

// checkCovered checks that maskLen covers segs. They are sorted (segments
// clips runs at addrSpace so no offset wraps), so the last one decides.
func checkCovered(segs []seg, maskLen uint32) ([]seg, error) {
	if k := len(segs) - 1; k >= 0 && segs[k].end() > uint64(maskLen) {
		return nil, fmt.Errorf("%w: mask length %d does not cover write [%d,%d)",
			ErrOutOfRange, maskLen, segs[k].off, segs[k].end())
	}
	return segs, nil
}
