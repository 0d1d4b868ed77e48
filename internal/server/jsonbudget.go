package server

import (
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// jsonDecodeAlloc is decodeAlloc for a JSON message (jsonCodec): it
// walks data as a JSON object of md without decoding it, and returns
// what jsonCodec.Unmarshal allocates decoding it, at most, under the
// binary codec's budget (decodeBudget: allocPerWireByte a wire byte plus
// allocFloor, maxBatch messages in one top-level list, maxBatch runs
// without data), or ErrDecodeBudget naming the field; and what the codec
// needs to decode it once (jsonFound). A JSON write request counts it
// against the bounds on write bytes before it is decoded (holdDecode),
// as a binary one counts decodeAlloc's: counted at its wire bytes, then
// at proto.Size, until 2026-12-07, a JSON Commit of many runs held a
// fraction of what decoding it allocated, an empty run ("{}," 3 bytes)
// decoding to about 130 (TestWriteBytesDecodeCounted,
// TestJSONDecodeAllocCoversDecode). Where data is not JSON that protojson
// accepts, it returns what was counted before the fault (the decode
// refuses it there).
func jsonDecodeAlloc(data []byte, md protoreflect.MessageDescriptor) (int64, jsonFound, error) {
	w := jsonWalk{data: data, b: newDecodeBudget(len(data))}
	w.b.alloc = jsonDecoderCost
	_, _, err := w.objectData(skipJSONSpace(data, 0), walkTableOf(md), true, 0)
	if err != nil && !errors.Is(err, errWireMalformed) {
		return 0, jsonFound{}, err
	}
	return w.b.alloc, w.found, nil
}

// jsonFound is what a walk of a JSON message found that decides how the
// codec decodes it (jsonCodec.Unmarshal), once: whether a member names
// no field (then unknown fields are discarded), and the first enum value
// of a known field named in a string the schema does not know (refused
// as the strict decode refuses it). Until 2026-12-07 a message with an
// unknown field was decoded strictly, then again discarding unknown
// fields, then read token by token for its enum names, allocating about
// 4 times what was counted for it (TestJSONDecodeAllocCoversDecode).
type jsonFound struct {
	unknown bool
	badEnum error
}

// What protojson allocates beyond the message it builds: for each string
// token (a name, a string value), its unescaped bytes (allocated), and
// where it holds an escape the slice they are unescaped into, grown as
// it is appended to (sliceGrowth a byte); for a 64-bit number in
// quotes, the string, its bytes again and what parsing them takes
// (quotedNumberCost); for each element of a list, what appending it
// through protoreflect takes besides its slot (jsonElementCost: measured
// 10 to 22 bytes, TestJSONDecodeAllocCoversDecode); for the decode
// itself, whatever the message, its decoder (jsonDecoderCost: measured
// 160 bytes).
const (
	quotedNumberCost = 32
	jsonElementCost  = 32
	jsonDecoderCost  = 1024
)

// stringCost is what protojson allocates for a string token of n bytes
// between its quotes (escaped: holding an escape): allocated's, rounded
// up to the allocator's 16-byte size classes, which waste more than an
// eighth under 128 bytes (a name of 36 bytes takes 48: measured, a
// request of unknown members of 36-byte names allocated 48 bytes each
// where 40 were counted).
func stringCost(n int64, escaped bool) int64 {
	cost := (allocated(n) + 15) &^ 15
	if escaped {
		cost += sliceGrowth * n
	}
	return cost
}

// jsonWalk is one walk of a JSON message (jsonDecodeAlloc).
type jsonWalk struct {
	data  []byte
	b     decodeBudget
	found jsonFound
	// skipDepth is the deepest an unknown member's value has nested.
	skipDepth int
}

// maxEscapedName is the longest escaped string the walk unescapes (with
// encoding/json, allocating it) to look it up as a member's name or an
// enum value's: longer, it names nothing of the schema (whose names are
// under 64 bytes, 6 escaped bytes each at most), and is not unescaped,
// so that a hostile name of megabytes allocates nothing before the
// decode is counted.
const maxEscapedName = 6 * 64

// maxJSONDepth is protojson's bound on nesting (protowire's
// DefaultRecursionLimit): past it the decode refuses the message.
const maxJSONDepth = 10000

// objectData walks the JSON object at data[i:] as a message of t (null
// included) and returns the index past it and how many bytes its bytes
// fields hold (a run's data).
func (w *jsonWalk) objectData(i int, t *walkTable, top bool, depth int) (end int, dataBytes int, err error) {
	data := w.data
	if depth > maxJSONDepth {
		return 0, 0, errWireMalformed
	}
	if lit, ok := jsonLiteral(data, i); ok {
		return lit, 0, nil // null (anything else is refused)
	}
	if i >= len(data) || data[i] != '{' {
		return 0, 0, errWireMalformed
	}
	i = skipJSONSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, 0, nil
	}
	for {
		ks, ke, escaped, ok := jsonString(data, i)
		if !ok {
			return 0, 0, errWireMalformed
		}
		name := data[ks:ke]
		if escaped && ke-ks <= maxEscapedName {
			// Unescaped as protojson reads it (rare: the schema's names
			// need no escapes, but "ite\u006ds" names items).
			var s string
			if json.Unmarshal(data[ks-1:ke+1], &s) != nil {
				return 0, 0, errWireMalformed
			}
			name = []byte(s)
		}
		f := t.named(name)
		if escaped && ke-ks > maxEscapedName {
			f = nil // names no field of the schema, unescaped or not
		}
		if err := w.b.charge(stringCost(int64(ke-ks), escaped), t.md, f.number()); err != nil {
			return 0, 0, err
		}
		i = skipJSONSpace(data, ke+1)
		if i >= len(data) || data[i] != ':' {
			return 0, 0, errWireMalformed
		}
		i = skipJSONSpace(data, i+1)
		var n int
		if f == nil {
			w.found.unknown = true
			if i, err = w.skip(i, t.md); err != nil {
				return 0, 0, err
			}
		} else if i, n, err = w.value(i, t, f, top, depth); err != nil {
			return 0, 0, err
		}
		dataBytes += n
		i = skipJSONSpace(data, i)
		if i >= len(data) {
			return 0, 0, errWireMalformed
		}
		if data[i] == '}' {
			return i + 1, dataBytes, nil
		}
		if data[i] != ',' {
			return 0, 0, errWireMalformed
		}
		i = skipJSONSpace(data, i+1)
	}
}

// value walks the value at data[i:] of field f of t's message, and
// returns the index past it and, for bytes, how many it holds.
func (w *jsonWalk) value(i int, t *walkTable, f *walkField, top bool, depth int) (int, int, error) {
	data := w.data
	if !f.list {
		return w.element(i, t, f, false, depth)
	}
	if lit, ok := jsonLiteral(data, i); ok {
		return lit, 0, nil // null
	}
	if i >= len(data) || data[i] != '[' {
		return 0, 0, errWireMalformed
	}
	i = skipJSONSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, 0, nil
	}
	count, empty := 0, 0
	for {
		end, n, err := w.element(i, t, f, true, depth)
		if err != nil {
			return 0, 0, err
		}
		count++
		if err := w.b.charge(jsonElementCost, t.md, f.num); err != nil {
			return 0, 0, err
		}
		if f.kind == fieldMessage && top && count > maxBatch {
			return 0, 0, budgetCountError(t.md, f, count, "elements")
		}
		if f.runs && n == 0 {
			if empty++; w.b.emptyRuns+empty > maxBatch {
				return 0, 0, budgetCountError(t.md, f, w.b.emptyRuns+empty, "runs without data")
			}
		}
		i = skipJSONSpace(data, end)
		if i >= len(data) {
			return 0, 0, errWireMalformed
		}
		if data[i] == ']' {
			w.b.emptyRuns += empty
			return i + 1, 0, nil
		}
		if data[i] != ',' {
			return 0, 0, errWireMalformed
		}
		i = skipJSONSpace(data, i+1)
	}
}

// element walks one value of field f (of t's message) at data[i:], an
// element of its list if inList, and returns the index past it and, for
// a run (a message) or bytes, the bytes of data it holds.
func (w *jsonWalk) element(i int, t *walkTable, f *walkField, inList bool, depth int) (int, int, error) {
	data := w.data
	num := f.num
	if f.kind == fieldMessage {
		if lit, ok := jsonLiteral(data, i); ok {
			return lit, 0, nil // null
		}
		cost := f.size
		if inList {
			cost += sliceGrowth * 8
		}
		if err := w.b.charge(cost, t.md, num); err != nil {
			return 0, 0, err
		}
		return w.objectData(i, f.sub, false, depth+1)
	}
	if lit, ok := jsonLiteral(data, i); ok {
		var cost int64
		if inList {
			cost = sliceGrowth * f.size
		}
		return lit, 0, w.b.charge(cost, t.md, num)
	}
	if i < len(data) && data[i] == '"' {
		s, e, escaped, ok := jsonString(data, i)
		if !ok {
			return 0, 0, errWireMalformed
		}
		n := int64(e - s)
		cost := stringCost(n, escaped) // the token's string
		switch f.kind {
		case fieldString:
			if inList {
				cost += sliceGrowth * 16
			}
		case fieldBytes:
			cost += allocated(n*3/4 + 3) // base64's decoded bytes
			if inList {
				cost += sliceGrowth * 24
			}
		default: // a number in quotes, or an enum's name
			if !f.enum {
				cost += allocated(n) + quotedNumberCost
			} else if w.found.badEnum == nil && !w.enumName(f, s, e, escaped) {
				return 0, 0, errWireMalformed
			}
			if inList {
				cost += sliceGrowth * f.size
			}
		}
		if err := w.b.charge(cost, t.md, num); err != nil {
			return 0, 0, err
		}
		return e + 1, int(n), nil
	}
	// A number.
	e := i
	for e < len(data) && (data[e] >= '0' && data[e] <= '9' || data[e] == '-' || data[e] == '+' || data[e] == '.' || data[e] == 'e' || data[e] == 'E') {
		e++
	}
	if e == i {
		return 0, 0, errWireMalformed
	}
	var cost int64
	if inList {
		cost = sliceGrowth * f.size
	}
	return e, 0, w.b.charge(cost, t.md, num)
}

// enumName checks the string data[s:e] (escaped: holding an escape), an
// enum value of f, against the schema's names, and records the first the
// schema does not know (jsonFound.badEnum); it returns false where the
// string is not one protojson reads (the decode refuses it).
func (w *jsonWalk) enumName(f *walkField, s, e int, escaped bool) bool {
	name := w.data[s:e]
	if escaped && e-s > maxEscapedName {
		w.found.badEnum = enumNameError(f, name)
		return true
	}
	if escaped {
		var u string
		if json.Unmarshal(w.data[s-1:e+1], &u) != nil {
			return false
		}
		name = []byte(u)
	}
	if !f.enumNames[string(name)] {
		w.found.badEnum = enumNameError(f, name)
	}
	return true
}

// maxQuotedEnum is the most of an unknown enum name its refusal quotes.
const maxQuotedEnum = 64

// enumNameError refuses name, an enum value of f the schema does not
// know, quoting at most maxQuotedEnum bytes of it: it is made during the
// walk, before the decode is counted, and a name of megabytes quoted
// whole took as much again.
func enumNameError(f *walkField, name []byte) error {
	if len(name) <= maxQuotedEnum {
		return fmt.Errorf("%w %s: %q", errEnumName, f.jsonName, name)
	}
	return fmt.Errorf("%w %s: %q… (%d bytes)", errEnumName, f.jsonName, name[:maxQuotedEnum], len(name))
}

// skip walks the value at data[i:] of an unknown field of md, without
// recursion, and returns the index past it: protojson reads its tokens,
// allocating each string's bytes.
func (w *jsonWalk) skip(i int, md protoreflect.MessageDescriptor) (int, error) {
	data := w.data
	depth := 0
	for {
		if i >= len(data) {
			return 0, errWireMalformed
		}
		switch data[i] {
		case '{', '[':
			if depth++; depth > maxJSONDepth {
				return 0, errWireMalformed
			}
			if depth > w.skipDepth {
				// protojson's stack of open values grows (measured: 7
				// bytes a level for 5000 nested lists, where nothing was
				// counted).
				w.skipDepth = depth
				if err := w.b.charge(sliceGrowth*8, md, 0); err != nil {
					return 0, err
				}
			}
			i++
		case '}', ']':
			depth--
			i++
		case '"':
			s, e, escaped, ok := jsonString(data, i)
			if !ok {
				return 0, errWireMalformed
			}
			if err := w.b.charge(stringCost(int64(e-s), escaped), md, 0); err != nil {
				return 0, err
			}
			i = e + 1
		case ',', ':', ' ', '\t', '\n', '\r':
			i++
			continue
		default:
			e := i
			for e < len(data) && data[e] != ',' && data[e] != '}' && data[e] != ']' && data[e] != ' ' && data[e] != '\t' && data[e] != '\n' && data[e] != '\r' && data[e] != ':' {
				e++
			}
			if e == i {
				return 0, errWireMalformed
			}
			i = e
		}
		if depth == 0 {
			return i, nil
		}
	}
}

// budgetCountError refuses a top-level list of f (of md) past maxBatch
// elements of what, as decodeBudget.walk does.
func budgetCountError(md protoreflect.MessageDescriptor, f *walkField, count int, what string) error {
	return fmt.Errorf("%w: %s: %d %s or more, more than %d", ErrDecodeBudget, fieldName(md, f.num), count, what, maxBatch)
}

// jsonLiteral says whether data[i:] starts with null, true or false,
// and returns the index past it.
func jsonLiteral(data []byte, i int) (int, bool) {
	for _, lit := range [...]string{"null", "true", "false"} {
		if len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit {
			return i + len(lit), true
		}
	}
	return 0, false
}

// jsonString scans the JSON string at data[i:] and returns where its
// contents start and end (the closing quote's index), whether they hold
// an escape, and whether it is a string at all (closed).
func jsonString(data []byte, i int) (start, end int, escaped, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return 0, 0, false, false
	}
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return i + 1, j, escaped, true
		}
	}
	return 0, 0, false, false
}

// skipJSONSpace returns the index of the first byte at or after i that
// is not JSON whitespace.
func skipJSONSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}
