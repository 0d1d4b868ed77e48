package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// jsonList is a JSON object whose field name is a list of n copies of
// elem, wrapped as prefix + list + suffix.
func jsonList(prefix, name, elem string, n int, suffix string) []byte {
	var b strings.Builder
	b.WriteString(prefix + `"` + name + `":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(elem)
	}
	b.WriteString("]" + suffix)
	return []byte(b.String())
}

// jsonShapes are JSON requests of the shapes that allocate the most per
// byte decoding (each list 2^16 long), and realistic ones.
func jsonShapes() []struct {
	name string
	data []byte
	m    func() proto.Message
} {
	commit := func() proto.Message { return &mmsbv1.CommitRequest{} }
	return []struct {
		name string
		data []byte
		m    func() proto.Message
	}{
		{"one-byte runs", jsonList(`{"deltas":[{"page":"1",`, "runs", `{"off":7,"data":"AQ=="}`, 1<<16, `}]}`), commit},
		{"empty runs", jsonList(`{"deltas":[{"page":"1",`, "runs", `{}`, 1<<16, `}]}`), commit},
		{"empty deltas", jsonList(`{`, "deltas", `{}`, 1<<16, `}`), commit},
		{"one large run", []byte(`{"deltas":[{"page":"1","source":"s","runs":[{"data":"` + strings.Repeat("QUJD", 1<<16) + `"}]}]}`), commit},
		{"empty items", jsonList(`{`, "items", `{}`, 1<<16, `}`), func() proto.Message { return &mmsbv1.ReadRequest{} }},
		{"empty items under an escaped name", jsonList(`{`, `items`, `{}`, 1<<16, `}`), func() proto.Message { return &mmsbv1.ReadRequest{} }},
		{"empty metadata entries", jsonList(`{"pages":[{"size":8,`, "meta", `{}`, 1<<16, `}]}`), func() proto.Message { return &mmsbv1.CreatePagesRequest{} }},
		{"quoted parents", jsonList(`{"child":"9",`, "parents", `"1"`, 1<<16, `}`), func() proto.Message { return &mmsbv1.BindRequest{} }},
		{"parents", jsonList(`{"child":"9",`, "parents", `1`, 1<<16, `}`), func() proto.Message { return &mmsbv1.BindRequest{} }},
		{"empty kinds", jsonList(`{`, "kinds", `""`, 1<<16, `}`), func() proto.Message { return &mmsbv1.QueryLogRequest{} }},
		{"escaped source", []byte(`{"source":"` + strings.Repeat(`\u0041`, 1<<16) + `"}`), commit},
		{"an unknown field before empty items", jsonList(`{"later":[1,"two",{"x":null}],`, "items", `{}`, 1<<16, `}`), func() proto.Message { return &mmsbv1.ReadRequest{} }},
		{"empty items by their proto name, then unknown ones", jsonList(`{`, "items", `{}`, 1<<16, `,"x":"`+strings.Repeat("y", 1<<16)+`"}`), func() proto.Message { return &mmsbv1.ReadRequest{} }},
		// Found by the review of 2026-12-07: an unknown member after the
		// runs had them decoded twice, then read token by token; an enum
		// value whose refusal says "unknown field" likewise.
		{"one-byte runs, then an unknown member", jsonList(`{"deltas":[{"page":"1",`, "runs", `{"off":7,"data":"AQ=="}`, 1<<14, `}],"newer":1}`), commit},
		{"one-byte runs, then an enum value named \"unknown field\"", jsonList(`{"deltas":[{"page":"1",`, "runs", `{"off":7,"data":"AQ=="}`, 1<<14, `,"form":"unknown field"}]}`), commit},
		{"an unknown member of a 1 MiB name", []byte(`{"` + strings.Repeat("y", 1<<20) + `":1}`), commit},
		{"an unknown member holding 1 MiB", []byte(`{"x":"` + strings.Repeat("y", 1<<20) + `"}`), commit},
		{"an unknown member of a 768 KiB escaped name", []byte(`{"` + strings.Repeat(`\u0041`, 1<<17) + `":1}`), commit},
		{"unknown members of 36-byte names", []byte(`{` + strings.Repeat(`"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":1,`, 1<<15) + `"z":1}`), commit},
		{"an unknown member nested 5000 deep", []byte(`{"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`), commit},
		{"one-byte runs, then a misspelt enum name of 1 MiB beside an unknown member", jsonList(`{"x":1,"deltas":[{"page":"1",`, "runs", `{"off":7,"data":"AQ=="}`, 1<<10, `,"form":"`+strings.Repeat("Z", 1<<20)+`"}]}`), commit},
		{"data with escaped newlines", []byte(`{"deltas":[{"page":"1","runs":[{"data":"` + strings.Repeat(`QUJD\n`, 1<<16) + `"}]}]}`), commit},
	}
}

// TestJSONDecodeAllocCoversDecode: for JSON requests of the shapes that
// allocate the most per byte decoding, jsonDecodeAlloc's estimate is at
// least what jsonCodec.Unmarshal allocates decoding them (the least of
// three runtime.MemStats.TotalAlloc deltas), so that a JSON write counts
// no less than its decode allocates (holdDecode), and a Commit of
// one-byte runs is not counted more than 4 times over. Control: before
// 2026-12-07 a JSON request counted nothing for its decode.
func TestJSONDecodeAllocCoversDecode(t *testing.T) {
	for _, c := range jsonShapes() {
		est, _, err := jsonDecodeAlloc(c.data, c.m().ProtoReflect().Descriptor())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// The walk itself allocates (next to) nothing before the decode
		// is counted: until 2026-12-07 it copied an unknown name twice.
		if walk := allocatedBy(func() { _, _, _ = jsonDecodeAlloc(c.data, c.m().ProtoReflect().Descriptor()) }); walk > 4096 {
			t.Errorf("%s, %d bytes: the walk allocated %d bytes", c.name, len(c.data), walk)
		}
		alloc := allocatedBy(func() { err = jsonCodec{"json"}.Unmarshal(c.data, c.m()) })
		if err != nil && !strings.Contains(c.name, "enum") {
			t.Fatalf("%s: %v", c.name, err)
		}
		per := func(n uint64) float64 { return float64(n) / float64(len(c.data)) }
		if uint64(est) < alloc && !raceBuild {
			t.Errorf("%s, %d bytes: estimated %d bytes (%.1f a byte), the decode allocated %d (%.1f)", c.name, len(c.data), est, per(uint64(est)), alloc, per(alloc))
			continue
		}
		if c.name == "one-byte runs" && uint64(est) > 4*alloc {
			t.Errorf("%s, %d bytes: estimated %d bytes, more than 4 times the %d the decode allocated", c.name, len(c.data), est, alloc)
		}
		t.Logf("%s, %d bytes: estimated %.1f a byte, allocated %.1f", c.name, len(c.data), per(uint64(est)), per(alloc))
	}
}

// TestJSONCodecBudget: the JSON codec refuses what the binary codec
// refuses (ErrDecodeBudget naming the field), before decoding it: a
// top-level list of more than maxBatch messages, more than maxBatch runs
// without data, and a shape past allocPerWireByte a byte plus
// allocFloor (6M empty metadata entries, 18 MB); a message within them
// is decoded. Control: before 2026-12-07 the JSON codec decoded all of
// them, a 16 MiB Commit of empty runs allocating about 700 MB.
func TestJSONCodecBudget(t *testing.T) {
	for _, c := range []struct {
		name, field string
		data        []byte
		m           proto.Message
	}{
		{"empty items", "mmsb.v1.ReadRequest.items", jsonList(`{`, "items", `{}`, maxBatch+1, `}`), &mmsbv1.ReadRequest{}},
		{"empty runs", "mmsb.v1.Delta.runs", jsonList(`{"deltas":[{"page":"1",`, "runs", `{}`, maxBatch+1, `}]}`), &mmsbv1.CommitRequest{}},
		{"empty metadata entries", "mmsb.v1.PageSpec.meta", jsonList(`{"pages":[{"size":8,`, "meta", `{}`, 6<<20, `}]}`), &mmsbv1.CreatePagesRequest{}},
	} {
		err := jsonCodec{"json"}.Unmarshal(c.data, c.m)
		if !errors.Is(err, ErrDecodeBudget) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s, %d bytes: %v; want ErrDecodeBudget naming %s", c.name, len(c.data), err, c.field)
		}
	}
	if err := (jsonCodec{"json"}).Unmarshal(jsonList(`{`, "items", fmt.Sprintf(`{"page":"%d","length":8}`, 3), 1<<10, `}`), &mmsbv1.ReadRequest{}); err != nil {
		t.Errorf("a Read of 1024 items: %v", err)
	}
}

// TestDecodeBudgetRefusalNamed: a CreatePages of empty metadata entries
// past about 7.5 MB (9.8 MB binary, 12 MB JSON), well within
// --max-request-bytes, is refused by either codec as past the decode
// budget, naming the field, the budget, that no flag sets it and that
// --max-request-bytes is not what refused it, and what to do. Control:
// until 2026-12-07 the refusal said "decoding would allocate N bytes or
// more, more than M (32 a wire byte + 268435456)".
func TestDecodeBudgetRefusalNamed(t *testing.T) {
	for _, c := range []struct {
		name  string
		codec interface{ Unmarshal([]byte, any) error }
		data  []byte
	}{
		{"binary", protoCodec{}, metaPages(600, 8191)},
		{"JSON", jsonCodec{"json"}, jsonList(`{"pages":[{"size":8,`, "meta", `{}`, 4<<20, `}]}`)},
	} {
		err := c.codec.Unmarshal(c.data, &mmsbv1.CreatePagesRequest{})
		for _, want := range []string{"mmsb.v1.PageSpec.meta", "the server's decode budget, 32 a wire byte + 268435456, which no flag sets",
			"--max-request-bytes bounds the wire bytes only", "send fewer elements in each request"} {
			if !errors.Is(err, ErrDecodeBudget) || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: %d bytes of empty metadata entries: %v; want ErrDecodeBudget saying %q", c.name, len(c.data), err, want)
			}
		}
	}
}

// FuzzJSONRequestBudget: for any bytes, the JSON walk never panics, and
// where it stops at bytes it cannot parse (or finds bytes after the
// message), the JSON codec refuses them too, so that no element past
// them goes uncounted; within the budget it refuses nothing.
func FuzzJSONRequestBudget(f *testing.F) {
	for _, s := range []string{`{}`, `null`, `{"deltas":[{"page":"1","runs":[{"off":1,"data":"AQ=="},{}]}]}`,
		`{"items":[{"page":1,"off":2,"length":3}],"asOfLsn":"9"}`, `{"pages":[{"size":8,"meta":[{"key":"k","value":"dg=="}]}]}`,
		`{"parents":["1",2,null],"func":"f64.max","x":{"y":[1,{"z":"\""}]}}`, `{"kinds":["a"],"from_lsn":1e3}`, `{"a":}`, `{"deltas":[{]}`, `{} x`,
		`{"deltas":[{"form":"DELTA_FORM_RUN","newer":1}]}`, `{"deltas":[{"form":"unknown field"}]}`, `{"deltas":[{"f\u006frm":"DELTA_FORM_RUNS","x":[[{}]]}]}`} {
		f.Add([]byte(s))
	}
	msgs := []func() proto.Message{
		func() proto.Message { return &mmsbv1.CommitRequest{} },
		func() proto.Message { return &mmsbv1.ReadRequest{} },
		func() proto.Message { return &mmsbv1.CreatePagesRequest{} },
		func() proto.Message { return &mmsbv1.BindRequest{} },
		func() proto.Message { return &mmsbv1.WatchRequest{} },
		func() proto.Message { return &mmsbv1.QueryLogRequest{} },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newMsg := range msgs {
			md := newMsg().ProtoReflect().Descriptor()
			w := jsonWalk{data: data, b: newDecodeBudget(len(data))}
			end, _, err := w.objectData(skipJSONSpace(data, 0), walkTableOf(md), true, 0)
			stopped := errors.Is(err, errWireMalformed) || err == nil && skipJSONSpace(data, end) != len(data)
			if err != nil && !errors.Is(err, errWireMalformed) {
				t.Fatalf("%s: %v within the budget", md.FullName(), err)
			}
			cerr := jsonCodec{"json"}.Unmarshal(data, newMsg())
			if stopped && cerr == nil {
				t.Fatalf("%s: the walk stopped at bytes the codec decodes: %q", md.FullName(), data)
			}
			if _, _, err := jsonDecodeAlloc(data, md); err != nil {
				t.Fatalf("%s: %v within the budget", md.FullName(), err)
			}
			// The codec decodes once, as the walk found: strictly where
			// no member is unknown (protojson then finds none), and a
			// misspelt enum name beside an unknown member is refused.
			if stopped {
				continue
			}
			if serr := protojson.Unmarshal(data, newMsg()); !w.found.unknown && serr != nil && strings.Contains(serr.Error(), "unknown field \"") {
				t.Fatalf("%s: the walk found no unknown member, protojson did: %v: %q", md.FullName(), serr, data)
			} else if w.found.unknown && serr == nil {
				t.Fatalf("%s: the walk found an unknown member, protojson decoded it strictly: %q", md.FullName(), data)
			}
			if w.found.unknown && w.found.badEnum != nil && cerr == nil {
				t.Fatalf("%s: a misspelt enum name beside an unknown member was decoded: %q", md.FullName(), data)
			}
		}
	})
}
