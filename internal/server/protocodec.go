package server

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// ErrDecodeBudget refuses a binary request message that holds more list
// elements than its decode may allocate for (ProtoCodec): it names the
// field and the count.
var ErrDecodeBudget = errors.New("server: request holds more elements than its decode may allocate for")

// minElementBytes is the fewest wire bytes of a list element that the
// bus accepts beyond the maxBatch items of a request: a run with one
// byte of data (tag, length, data's tag, length and byte). An element of
// a repeated message, string or bytes field costs its decode a Go value
// of some tens of bytes however few wire bytes it takes ("0a 00": two),
// so that a 16 MiB request of empty elements allocated ~1 GB.
const minElementBytes = 5

// ProtoCodec returns the handler option that installs the server's
// binary codec, named "proto" as Connect's (so that the Connect protocol's
// application/proto and gRPC's and gRPC-Web's application/grpc,
// application/grpc+proto and their -web forms all use it). It marshals
// as Connect's does; before proto.Unmarshal it walks the wire bytes
// (checkDecodeBudget) and refuses a message holding more than maxBatch
// messages in one top-level list (the deltas, pages, items, ranges or
// metadata entries checkCount and its like count after the decode), or
// more than maxBatch + len/5 list elements of messages, strings and
// bytes at every depth (ErrDecodeBudget, naming the field and the
// count), so that a decode allocates at most a bounded multiple of its
// wire bytes beside the maxBatch items a request may hold
// (TestProtoCodecBudget).
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
	if err := checkDecodeBudget(data, pm.ProtoReflect().Descriptor()); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	if err := proto.Unmarshal(data, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// errWireMalformed stops the walk where the wire bytes cannot be
// parsed: proto.Unmarshal refuses them too (FuzzRequestBudget), having
// allocated no more than the elements counted before them.
var errWireMalformed = errors.New("malformed wire bytes")

// decodeBudget counts the list elements a decode would allocate.
type decodeBudget struct {
	elements, max int
}

// checkDecodeBudget walks data as a message of md and returns
// ErrDecodeBudget where it holds more elements than the budget allows;
// nil otherwise, malformed bytes included (proto.Unmarshal refuses them).
// It allocates nothing.
func checkDecodeBudget(data []byte, md protoreflect.MessageDescriptor) error {
	b := decodeBudget{max: maxBatch + len(data)/minElementBytes}
	if err := b.walk(data, md, true); err != nil && !errors.Is(err, errWireMalformed) {
		return err
	}
	return nil
}

// maxTopFields is how many fields of a top-level message are counted
// one by one (a request message of the schema has fewer).
const maxTopFields = 16

func (b *decodeBudget) walk(data []byte, md protoreflect.MessageDescriptor, top bool) error {
	var perField [maxTopFields]int
	fields := md.Fields()
	for len(data) > 0 {
		num, typ, n := protowire.ConsumeTag(data)
		if n < 0 {
			return errWireMalformed
		}
		data = data[n:]
		fd := fields.ByNumber(num)
		if fd == nil || typ != protowire.BytesType || (fd.Message() == nil && fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind) {
			// Unknown, scalar (at most 8 bytes a wire byte) or of another
			// wire type than its field's (kept as an unknown field).
			if n = protowire.ConsumeFieldValue(num, typ, data); n < 0 {
				return errWireMalformed
			}
			data = data[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(data)
		if n < 0 {
			return errWireMalformed
		}
		data = data[n:]
		if fd.IsList() {
			b.elements++
			if i := fd.Index(); top && i < maxTopFields && fd.Message() != nil {
				if perField[i]++; perField[i] > maxBatch {
					return fmt.Errorf("%w: %s: %d elements or more, more than %d", ErrDecodeBudget, fd.FullName(), perField[i], maxBatch)
				}
			}
			if b.elements > b.max {
				return fmt.Errorf("%w: %s: element %d of the request, more than %d (%d + one per %d wire bytes)",
					ErrDecodeBudget, fd.FullName(), b.elements, b.max, maxBatch, minElementBytes)
			}
		}
		if fd.Message() != nil {
			if err := b.walk(v, fd.Message(), false); err != nil {
				return err
			}
		}
	}
	return nil
}
