package server

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// ErrDecodeBudget refuses a binary request message whose decode would
// allocate more than its budget (ProtoCodec): it names the field and
// the count.
var ErrDecodeBudget = errors.New("server: request's decode would allocate more than its budget")

// ProtoCodec returns the handler option that installs the server's
// binary codec, named "proto" as Connect's (so that the Connect protocol's
// application/proto and gRPC's and gRPC-Web's application/grpc,
// application/grpc+proto and their -web forms all use it). It marshals
// as Connect's does; before proto.Unmarshal it walks the wire bytes
// (checkDecodeBudget) and refuses a message holding more than maxBatch
// messages in one top-level list (the deltas, pages, items, ranges or
// metadata entries checkCount and its like count after the decode),
// more than maxBatch runs without data, or whose decode would allocate
// more than allocPerWireByte bytes a wire byte plus allocFloor, counted
// for each element by its kind (a message, a list's slot, a string or
// bytes, a number of a list, packed or not, an unknown field), with
// ErrDecodeBudget naming the field and the count
// (TestProtoCodecBudget, TestProtoCodecAcceptsMetadata).
func ProtoCodec() connect.HandlerOption { return connect.WithCodec(protoCodec{}) }

type protoCodec struct{}

func (protoCodec) Name() string { return "proto" }

func (protoCodec) IsBinary() bool { return true }

func (protoCodec) Marshal(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.Marshal(pm)
}

func (protoCodec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, pm)
}

// MarshalStable is Connect's (for GET requests of idempotent methods).
func (protoCodec) MarshalStable(m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(pm)
}

// Unmarshal refuses a message past the decode budget before decoding
// it. Connect answers every codec error with invalid_argument.
func (protoCodec) Unmarshal(data []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	alloc, err := decodeAlloc(data, pm.ProtoReflect().Descriptor())
	if err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	// A write request counts what its decode allocates against the
	// bounds on write bytes before it is decoded (holdDecode).
	if err := holdDecode(alloc); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	if err := proto.Unmarshal(data, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// errWireMalformed stops the walk where the wire bytes cannot be
// parsed: proto.Unmarshal refuses them too (FuzzRequestBudget), having
// allocated no more than the bytes counted before them.
var errWireMalformed = errors.New("malformed wire bytes")

// The decode budget's bound: a decode may allocate allocPerWireByte
// bytes for each wire byte of the request plus allocFloor. The multiple
// is set by the realistic valid shapes with the most allocation per
// wire byte: runs of one byte (5 wire bytes, 128 bytes decoded: about
// 26 a wire byte) and, under the floor, the maxBatch items a request
// may hold (about 256 bytes each). An absurd valid shape costs more: an
// empty metadata entry ("1a 00", 2 wire bytes) decodes to a MetaEntry of
// 80 bytes and its slot in a grown list, 120 bytes; the floor takes a
// few million of them (a CreatePages of 300 pages of 8191 each, 4.9 MB),
// and more are refused naming the field. Accepting them at any size, at
// 64 a wire byte, let a 64 MiB request allocate 4.3 GB
// (TestProtoCodecAcceptsMetadata, TestDecodeBudgetCoversDecode).
const (
	allocPerWireByte = 32
	allocFloor       = maxBatch * 256
)

// sliceGrowth is how many times the bytes of its elements an
// append-grown slice allocates in all, at most: Go grows a large slice
// by a quarter, so that its capacities add up to 1/(1-1/1.25) = 5 times
// the last, which may be 1.25 times its length (6.25), before the
// allocator rounds up. At 5 (until 2026-12-07) the estimate fell short
// of the decode (TestDecodeBudgetCoversDecode).
const sliceGrowth = 7

// allocated is what the allocator gives for n bytes, at least: n
// rounded up to its size class (sizeClasses), a large one to whole pages
// of 8 KiB, and never less than an eighth more. The eighth alone fell
// short of the size classes that are more than an eighth apart: a string
// of 33 bytes takes 48, one of 49 takes 64, one of 769 takes 896, until
// 2026-12-07 counted 40, 56 and 872 (TestAllocatedCoversSizeClasses).
func allocated(n int64) int64 {
	if n <= 0 {
		return 0
	}
	slack := (n + n/8 + 7) &^ 7
	if n > sizeClasses[len(sizeClasses)-1] {
		return max(slack, (n+largePage-1)/largePage*largePage)
	}
	i, _ := slices.BinarySearch(sizeClasses[:], n)
	return max(slack, sizeClasses[i])
}

// sizeClasses are the Go allocator's size classes of small objects
// (runtime/sizeclasses.go); larger objects take whole pages of largePage
// bytes.
var sizeClasses = [...]int64{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
	2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

const largePage = 8192

// deltaRuns is the field of a delta's runs, and leastRunBytes the fewest
// bytes of a run that carries data (data's tag, length and one byte).
// The bus refuses a run without data (delta.Validate), so that such runs
// of a request are counted as the elements of a top-level list, at most
// maxBatch of them: an empty run is as small as an empty metadata entry.
const deltaRuns protoreflect.FullName = "mmsb.v1.Delta.runs"

const leastRunBytes = 3

// decodeBudget counts the bytes a decode would allocate.
type decodeBudget struct {
	alloc, max int64
	emptyRuns  int
}

// newDecodeBudget is the budget of a request of n wire bytes.
func newDecodeBudget(n int) decodeBudget {
	return decodeBudget{max: allocPerWireByte*int64(n) + allocFloor}
}

// messageBytes is what decoding allocates for one message of md: its
// Go struct, rounded up to 16 bytes as the allocator does, or 256 bytes
// for a type the registry does not know (a map's entry).
func messageBytes(md protoreflect.MessageDescriptor) int64 {
	size := int64(256)
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		if t := reflect.TypeOf(mt.Zero().Interface()); t.Kind() == reflect.Pointer {
			size = (int64(t.Elem().Size()) + 15) &^ 15
		}
	}
	return size
}

// checkDecodeBudget walks data as a message of md and returns
// ErrDecodeBudget where decoding it would allocate more than the budget
// allows; nil otherwise, malformed bytes included (proto.Unmarshal
// refuses them). It allocates nothing once md's walkTable is made.
func checkDecodeBudget(data []byte, md protoreflect.MessageDescriptor) error {
	_, err := decodeAlloc(data, md)
	return err
}

// decodeAlloc is checkDecodeBudget returning, where it refuses nothing,
// the bytes the walk counted: what decoding data allocates, at most
// (TestDecodeBudgetCoversDecode), or, where data is malformed, what the
// decode may allocate before it refuses it.
func decodeAlloc(data []byte, md protoreflect.MessageDescriptor) (int64, error) {
	b := newDecodeBudget(len(data))
	if err := b.walk(data, walkTableOf(md), true); err != nil && !errors.Is(err, errWireMalformed) {
		return 0, err
	}
	return b.alloc, nil
}

// maxTopFields is how many fields of a message are counted one by one
// (a message of the schema has fewer).
const maxTopFields = 16

// maxTableNumber bounds a walkTable's index by field number: a field of
// a larger number (none in the schema) is looked up in its descriptor.
const maxTableNumber = 256

// The kinds of field the walk tells apart.
const (
	fieldNumber  = iota + 1 // numbers, bools, enums
	fieldString             // a string
	fieldBytes              // bytes
	fieldMessage            // a message, or a map's entry
)

// walkField is what the walk needs of one field, taken from its
// descriptor once (walkTable): calling the descriptor for every element
// made the walk twice as slow.
type walkField struct {
	kind  uint8
	list  bool
	enum  bool // an enum (a number), named in JSON by a string
	num   protowire.Number
	runs  bool           // deltaRuns
	index int            // the field's index, or -1 past maxTopFields
	wire  protowire.Type // a number's wire type
	size  int64          // a number's Go size, or a message's (messageBytes)
	fixed int            // a fixed number's wire bytes, 0 for a varint
	sub   *walkTable     // a message's
	// enumNames holds an enum's value names, jsonName the field's JSON
	// name (jsonWalk.enumName).
	enumNames map[string]bool
	jsonName  string
}

// walkTable is the walk's view of a message: its fields by number, made
// once for each message type (walkTableOf) and only read afterwards.
type walkTable struct {
	md       protoreflect.MessageDescriptor
	byNumber []walkField // kind 0: no such field
	// byName holds byNumber's fields by their JSON and proto names
	// (jsonDecodeAlloc); beyond: the message has a field past byNumber
	// (none in the schema), looked up in its descriptor.
	byName map[string]*walkField
	beyond bool
}

// walkTables holds each message descriptor's *walkTable.
var walkTables sync.Map

// walkTableOf returns md's walkTable, making it (and those of the
// messages its fields hold) the first time.
func walkTableOf(md protoreflect.MessageDescriptor) *walkTable {
	if t, ok := walkTables.Load(md); ok {
		return t.(*walkTable)
	}
	made := map[protoreflect.MessageDescriptor]*walkTable{}
	t := makeWalkTable(md, made)
	for d, m := range made {
		walkTables.LoadOrStore(d, m)
	}
	return t
}

// makeWalkTable makes md's walkTable, adding it and those it links to
// (a message type may hold itself) to made.
func makeWalkTable(md protoreflect.MessageDescriptor, made map[protoreflect.MessageDescriptor]*walkTable) *walkTable {
	if t, ok := made[md]; ok {
		return t
	}
	if t, ok := walkTables.Load(md); ok {
		return t.(*walkTable)
	}
	t := &walkTable{md: md}
	made[md] = t
	fields := md.Fields()
	top := 0
	for i := range fields.Len() {
		if n := int(fields.Get(i).Number()); n < maxTableNumber {
			top = max(top, n+1)
		}
	}
	t.byNumber = make([]walkField, top)
	t.byName = make(map[string]*walkField, 2*fields.Len())
	for i := range fields.Len() {
		if fd := fields.Get(i); int(fd.Number()) < maxTableNumber {
			t.byNumber[fd.Number()] = makeWalkField(fd, made)
			t.byName[fd.JSONName()] = &t.byNumber[fd.Number()]
			t.byName[string(fd.Name())] = &t.byNumber[fd.Number()]
		} else {
			t.beyond = true
		}
	}
	return t
}

// named is the walkField of the field a JSON member named name sets (its
// JSON name or its proto name, as protojson looks them up), or nil. It
// allocates nothing for a message of the schema: until 2026-12-07 each
// unknown member's name was copied twice to look it up in the
// descriptor, a 1 MB name allocating 2 MB before anything was counted.
func (t *walkTable) named(name []byte) *walkField {
	if f, ok := t.byName[string(name)]; ok || !t.beyond {
		return f
	}
	fields := t.md.Fields()
	fd := fields.ByJSONName(string(name))
	if fd == nil {
		fd = fields.ByTextName(string(name))
	}
	if fd == nil {
		return nil
	}
	return t.field(fd.Number())
}

// number is f's field number, 0 for a nil f (an unknown field).
func (f *walkField) number() protowire.Number {
	if f == nil {
		return 0
	}
	return f.num
}

// makeWalkField is fd's walkField.
func makeWalkField(fd protoreflect.FieldDescriptor, made map[protoreflect.MessageDescriptor]*walkTable) walkField {
	f := walkField{list: fd.IsList(), runs: fd.FullName() == deltaRuns, index: -1, wire: protowire.VarintType,
		enum: fd.Kind() == protoreflect.EnumKind, num: fd.Number(), jsonName: fd.JSONName()}
	if f.enum {
		values := fd.Enum().Values()
		f.enumNames = make(map[string]bool, values.Len())
		for i := range values.Len() {
			f.enumNames[string(values.Get(i).Name())] = true
		}
	}
	if fd.Index() < maxTopFields {
		f.index = fd.Index()
	}
	switch {
	case fd.Message() != nil:
		f.kind, f.size, f.sub = fieldMessage, messageBytes(fd.Message()), makeWalkTable(fd.Message(), made)
	case fd.Kind() == protoreflect.StringKind:
		f.kind = fieldString
	case fd.Kind() == protoreflect.BytesKind:
		f.kind = fieldBytes
	default:
		f.kind, f.size = fieldNumber, 4
		switch fd.Kind() {
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
			f.wire, f.fixed = protowire.Fixed32Type, 4
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
			f.wire, f.fixed, f.size = protowire.Fixed64Type, 8, 8
		case protoreflect.Int64Kind, protoreflect.Uint64Kind, protoreflect.Sint64Kind:
			f.size = 8
		case protoreflect.BoolKind:
			f.size = 1
		}
	}
	return f
}

// noField is the walkField of a number no field has.
var noField walkField

// field is the walkField of number num of t's message.
func (t *walkTable) field(num protowire.Number) *walkField {
	if num >= 0 && int(num) < len(t.byNumber) {
		return &t.byNumber[num]
	}
	if fd := t.md.Fields().ByNumber(num); fd != nil {
		f := makeWalkField(fd, map[protoreflect.MessageDescriptor]*walkTable{})
		return &f
	}
	return &noField
}

// charge adds n bytes to the allocation and refuses past the bound,
// naming field num of md, and the bound as the decode budget, which no
// flag sets: a CreatePages of empty metadata entries past about 7.5 MB
// (136 bytes decoded for 2 wire bytes) was refused well within
// --max-request-bytes, naming neither what refused it nor how to pass
// (TestDecodeBudgetRefusalNamed).
func (b *decodeBudget) charge(n int64, md protoreflect.MessageDescriptor, num protowire.Number) error {
	if b.alloc += n; b.alloc <= b.max {
		return nil
	}
	return fmt.Errorf("%w: %s: decoding would allocate %d bytes or more, more than the %d one request's decode may "+
		"(the server's decode budget, %d a wire byte + %d, which no flag sets: --max-request-bytes bounds the wire bytes only); "+
		"send fewer elements in each request",
		ErrDecodeBudget, fieldName(md, num), b.alloc, b.max, allocPerWireByte, allocFloor)
}

// fieldName names field num of md, known or not, or md itself for 0
// (what no field is charged for: jsonDecodeAlloc's tokens).
func fieldName(md protoreflect.MessageDescriptor, num protowire.Number) string {
	if num == 0 {
		return string(md.FullName())
	}
	if fd := md.Fields().ByNumber(num); fd != nil {
		return string(fd.FullName())
	}
	return string(md.FullName()) + " field " + fmt.Sprint(num)
}

// count is how many numbers a packed chunk v of f holds.
func (f *walkField) count(v []byte) int {
	if f.fixed > 0 {
		return len(v) / f.fixed
	}
	count := 0
	for _, c := range v {
		if c < 0x80 {
			count++
		}
	}
	return count
}

func (b *decodeBudget) walk(data []byte, t *walkTable, top bool) error {
	// perField counts each list field's elements: a top-level list holds
	// at most maxBatch messages, and a packed chunk's decode copies the
	// elements before it into a list grown to hold its own.
	var perField [maxTopFields]int
	whole := len(data)
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return errWireMalformed
		}
		data = data[n:]
		f := t.field(num)
		i := f.index
		if f.kind == 0 || typ != protowire.BytesType || (f.kind == fieldNumber && !f.list) {
			// Unknown, a number, or of another wire type than its
			// field's (kept as an unknown field): at most its wire bytes
			// appended to a grown slice, or a number appended to a list.
			m := protowire.ConsumeFieldValue(num, typ, data)
			if m < 0 {
				return errWireMalformed
			}
			data = data[m:]
			cost := sliceGrowth * int64(n+m) // kept as unknown bytes
			if f.kind == fieldNumber && typ == f.wire {
				cost = 0 // a number in its field
				if f.list {
					cost = sliceGrowth * f.size
					if i >= 0 {
						perField[i]++
					}
				}
			}
			if err := b.charge(cost, t.md, num); err != nil {
				return err
			}
			continue
		}
		v, m := protowire.ConsumeBytes(data)
		if m < 0 {
			return errWireMalformed
		}
		data = data[m:]
		var cost int64
		switch {
		case f.kind == fieldNumber:
			// A packed chunk of a list of numbers: the decode grows the
			// list to hold the chunk's elements, copying those before it
			// (so that many chunks of one number each cost the square of
			// their count).
			count := f.count(v)
			before := whole // more than the elements before it
			if i >= 0 {
				before = perField[i]
				perField[i] += count
			}
			if count == 0 {
				continue
			}
			if err := b.charge(allocated(f.size*int64(before+count)), t.md, num); err != nil {
				return err
			}
			continue
		case f.kind == fieldMessage && f.list:
			cost = sliceGrowth*8 + f.size
			if i >= 0 {
				perField[i]++
			}
			if top && i >= 0 && perField[i] > maxBatch {
				return fmt.Errorf("%w: %s: %d elements or more, more than %d", ErrDecodeBudget, fieldName(t.md, num), perField[i], maxBatch)
			}
			if f.runs && len(v) < leastRunBytes {
				if b.emptyRuns++; b.emptyRuns > maxBatch {
					return fmt.Errorf("%w: %s: %d runs without data or more, more than %d", ErrDecodeBudget, fieldName(t.md, num), b.emptyRuns, maxBatch)
				}
			}
		case f.kind == fieldMessage: // a singular message or a map's entry
			cost = f.size
		case f.list && f.kind == fieldString:
			cost = sliceGrowth*16 + allocated(int64(len(v)))
		case f.list:
			cost = sliceGrowth*24 + allocated(int64(len(v)))
		default:
			cost = allocated(int64(len(v)))
		}
		if err := b.charge(cost, t.md, num); err != nil {
			return err
		}
		if f.kind == fieldMessage {
			if err := b.walk(v, f.sub, false); err != nil {
				return err
			}
		}
	}
	return nil
}
