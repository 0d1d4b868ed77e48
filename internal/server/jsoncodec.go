package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// JSONCodecs are the server's JSON codecs, under both names Connect
// gives JSON ("json" and "json; charset=utf-8"): Connect's own
// (protojson, unknown fields discarded, so that a client with a newer
// schema is served), except that an enum value named in a string the
// schema does not know is refused as invalid_argument naming the field,
// where Connect's discarded it and left the field at its zero value: a
// RemoveEdge whose type was misspelt ("EDGE_TYPE_CONTRL") removed the
// data edge, an AddEdge added one (TestJSONUnknownEnumRefused). Mux's
// service takes them; a service mounted beside it (the inspector's) may
// take them among its handler options.
func JSONCodecs() []connect.HandlerOption {
	return []connect.HandlerOption{connect.WithCodec(jsonCodec{"json"}), connect.WithCodec(jsonCodec{"json; charset=utf-8"})}
}

type jsonCodec struct{ name string }

func (c jsonCodec) Name() string { return c.name }

func (c jsonCodec) IsBinary() bool { return false }

func (c jsonCodec) Marshal(m any) ([]byte, error) { return c.MarshalAppend(nil, m) }

func (c jsonCodec) MarshalAppend(dst []byte, m any) ([]byte, error) {
	pm, ok := m.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("%T is not a protobuf message", m)
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, pm)
}

// Unmarshal decodes strictly first; a message refused only for an
// unknown field is decoded again with unknown fields discarded, as
// Connect's codec does, and since protojson then discards unknown enum
// names too, its enum names are checked against the schema after
// (checkEnumNames): an unknown one is refused whatever else the message
// holds.
func (c jsonCodec) Unmarshal(data []byte, m any) error {
	pm, ok := m.(proto.Message)
	if !ok {
		return fmt.Errorf("%T is not a protobuf message", m)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	err := protojson.Unmarshal(data, pm)
	if err == nil {
		return nil
	}
	if !strings.Contains(err.Error(), "unknown field") {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	proto.Reset(pm)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, pm); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	// DiscardUnknown dropped the unknown enum names too, past the
	// unknown field: they are refused as the strict decode refuses them
	// (until 2026-12-07 a RemoveEdge with an unknown field and a
	// misspelt type removed the data edge, TestJSONUnknownEnumBesideUnknownField).
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // any number an unknown field holds reads as it is
	if err := checkEnumNames(dec, pm.ProtoReflect().Descriptor()); err != nil {
		proto.Reset(pm)
		return fmt.Errorf("unmarshal into %T: %w", m, err)
	}
	return nil
}

// errEnumName is the refusal of an enum value named in a string the
// schema does not know.
var errEnumName = errors.New("invalid value for enum field")

// checkEnumNames reads the JSON object dec holds, a message md that
// protojson decoded with unknown fields discarded, and refuses the first
// enum value it names in a string that md's schema does not know, naming
// the field (its JSON name) and the value. The unknown fields' values
// are skipped unread; so is what is not an enum or a message. It reads
// tokens, not a tree: it holds no more than one token of the body.
func checkEnumNames(dec *json.Decoder, md protoreflect.MessageDescriptor) error {
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil // null, or what protojson decoded already
	}
	fields := md.Fields()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil || fd.Kind() != protoreflect.EnumKind && fd.Kind() != protoreflect.MessageKind {
			if err := skipJSONValue(dec); err != nil {
				return nil
			}
			continue
		}
		if !fd.IsList() {
			if err := checkEnumValue(dec, fd); err != nil {
				return err
			}
			continue
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			continue // null
		}
		for dec.More() {
			if err := checkEnumValue(dec, fd); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil
		}
	}
	_, _ = dec.Token() // '}'
	return nil
}

// checkEnumValue reads one value of fd, an enum or message field, from
// dec (checkEnumNames).
func checkEnumValue(dec *json.Decoder, fd protoreflect.FieldDescriptor) error {
	if fd.Kind() == protoreflect.MessageKind {
		return checkEnumNames(dec, fd.Message())
	}
	tok, err := dec.Token()
	if err != nil {
		return nil
	}
	if name, ok := tok.(string); ok && fd.Enum().Values().ByName(protoreflect.Name(name)) == nil {
		return fmt.Errorf("%w %s: %q", errEnumName, fd.JSONName(), name)
	}
	return nil
}

// skipJSONValue reads one value from dec, whatever it holds.
func skipJSONValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}
