package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/mmsb-go/mmsb"
	mmsbv1 "github.com/mmsb-go/mmsb/gen/mmsb/v1"
)

// emptyItems is a ReadRequest of n empty items ("0a 00" each).
func emptyItems(n int) []byte { return bytes.Repeat([]byte{0x0a, 0x00}, n) }

// emptyRuns is a CommitRequest of one delta to page 1 with n empty runs
// ("1a 00" each).
func emptyRuns(n int) []byte {
	d := append([]byte{0x08, 0x01}, bytes.Repeat([]byte{0x1a, 0x00}, n)...)
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), d)
}

// oneByteRunDeltas is a CommitRequest of n deltas to page 1, each with
// n runs of one byte.
func oneByteRunDeltas(deltas, runs int) []byte {
	d := []byte{0x08, 0x01}
	for range runs {
		d = append(d, 0x1a, 0x03, 0x12, 0x01, 'x')
	}
	var b []byte
	for range deltas {
		b = protowire.AppendBytes(protowire.AppendTag(b, 1, protowire.BytesType), d)
	}
	return b
}

// allocatedBy returns the fewest bytes the process allocated over three
// calls of f (the goroutines of other tests may allocate beside one).
func allocatedBy(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestProtoCodecBudget: the two hostile shapes of the request-decoding
// review of 2026-12-07, 16 MiB each (a ReadRequest of 8M empty items, a
// CommitRequest of one delta with 8M empty runs), are refused by the
// server's binary codec with ErrDecodeBudget naming the field, having
// allocated less than 4 times their wire bytes (proto.Unmarshal, which
// Connect's codec called, allocated 875 MB and 1.0 GB for them); a
// ReadRequest of 2^20 items and a Commit of 2^20 deltas, the most
// checkCount lets through, pass the walk, and so does one delta of 2^20 + 1
// one-byte runs (the bus has no bound on runs), while 2^20 + 1 items are
// refused before decoding.
func TestProtoCodecBudget(t *testing.T) {
	for _, c := range []struct {
		name, field string
		data        []byte
		m           proto.Message
	}{
		{"read of 8M empty items", "mmsb.v1.ReadRequest.items", emptyItems(8 << 20), &mmsbv1.ReadRequest{}},
		{"commit of 8M empty runs", "mmsb.v1.Delta.runs", emptyRuns(8 << 20), &mmsbv1.CommitRequest{}},
		{"read of 2^20+1 items", "mmsb.v1.ReadRequest.items", emptyItems(maxBatch + 1), &mmsbv1.ReadRequest{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var err error
			alloc := allocatedBy(func() { err = protoCodec{}.Unmarshal(c.data, c.m) })
			if !errors.Is(err, ErrDecodeBudget) || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("Unmarshal of %d bytes: %v; want ErrDecodeBudget naming %s", len(c.data), err, c.field)
			}
			if alloc >= 4*uint64(len(c.data)) {
				t.Fatalf("Unmarshal of %d bytes allocated %d bytes; want less than 4 times the wire bytes", len(c.data), alloc)
			}
		})
	}
	for _, c := range []struct {
		name string
		data []byte
		m    proto.Message
	}{
		{"read of 2^20 items", emptyItems(maxBatch), &mmsbv1.ReadRequest{}},
		{"commit of 2^20 deltas", oneByteRunDeltas(maxBatch, 1), &mmsbv1.CommitRequest{}},
		{"one delta of 2^20 + 1 runs", oneByteRunDeltas(1, maxBatch+1), &mmsbv1.CommitRequest{}},
	} {
		if err := checkDecodeBudget(c.data, c.m.ProtoReflect().Descriptor()); err != nil {
			t.Errorf("%s: %v; want it within the budget", c.name, err)
		}
	}
	// A valid commit decodes through the codec as through proto.Unmarshal.
	data := oneByteRunDeltas(1000, 3)
	var got, want mmsbv1.CommitRequest
	if err := (protoCodec{}).Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if err := proto.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, &want) || len(got.GetDeltas()) != 1000 {
		t.Fatalf("the codec decoded %d deltas, unlike proto.Unmarshal", len(got.GetDeltas()))
	}
}

// TestProtoCodecInstalled: the server's Mux refuses a Read of 2^20 + 1
// empty items and a Commit of 2M empty runs as invalid_argument naming
// the field, before decoding, over Connect (application/proto), gRPC
// (application/grpc and application/grpc+proto) and gRPC-Web. Control:
// with Connect's codec (before 2026-12-07) the Read was decoded, then
// refused as resource_exhausted "Read: 1048577 items, more than
// 1048576", and the Commit decoded, then refused by the bus (not_found:
// the page does not exist).
func TestProtoCodecInstalled(t *testing.T) {
	bus, err := mmsb.Open("", &mmsb.Options{DisableLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	srv, err := New(Config{Bus: bus, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	hs := httptest.NewUnstartedServer(srv.Mux(HTTPOptions{}))
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	hc := hs.Client()
	for _, r := range []struct {
		proc, field string
		body        []byte
	}{
		{"Read", "mmsb.v1.ReadRequest.items", emptyItems(maxBatch + 1)},
		{"Commit", "mmsb.v1.Delta.runs", emptyRuns(2 << 20)},
	} {
		for _, ct := range []string{"application/proto", "application/grpc", "application/grpc+proto", "application/grpc-web+proto"} {
			body := r.body
			if ct != "application/proto" {
				body = binary.BigEndian.AppendUint32([]byte{0}, uint32(len(r.body)))
				body = append(body, r.body...)
			}
			req, err := http.NewRequest(http.MethodPost, hs.URL+"/mmsb.v1.BusService/"+r.proc, bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", ct)
			if ct == "application/grpc" || ct == "application/grpc+proto" {
				req.Header.Set("TE", "trailers")
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			answer, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			all := string(answer) + resp.Header.Get("Grpc-Status") + " " + resp.Header.Get("Grpc-Message") + " " +
				resp.Trailer.Get("Grpc-Status") + " " + resp.Trailer.Get("Grpc-Message")
			code := strings.Contains(all, `"code":"invalid_argument"`)
			switch ct {
			case "application/grpc", "application/grpc+proto":
				code = resp.Header.Get("Grpc-Status")+resp.Trailer.Get("Grpc-Status") == "3"
			case "application/grpc-web+proto": // its trailers in its headers or its body
				code = resp.Header.Get("Grpc-Status") == "3" ||
					strings.Contains(strings.ReplaceAll(strings.ToLower(string(answer)), " ", ""), "grpc-status:3")
			}
			if !code || !strings.Contains(all, r.field) {
				t.Errorf("%s as %s: %s; want invalid_argument naming %s", r.proc, ct, all, r.field)
			}
		}
	}
}

// FuzzRequestBudget: for any bytes, the walk never panics, and where it
// stops at bytes it cannot parse, proto.Unmarshal refuses them too (so
// that no element past them goes uncounted); the codec and
// proto.Unmarshal agree on every input within the budget.
func FuzzRequestBudget(f *testing.F) {
	f.Add(emptyItems(3))
	f.Add(emptyRuns(3))
	f.Add(oneByteRunDeltas(2, 2))
	f.Add([]byte{0x0a, 0x05, 0x1a, 0x03, 0x12, 0x01})
	f.Add([]byte{0x0b, 0x0c})
	f.Add([]byte{0x22, 0x02, 0x01, 0x80})
	msgs := []func() proto.Message{
		func() proto.Message { return &mmsbv1.CommitRequest{} },
		func() proto.Message { return &mmsbv1.ReadRequest{} },
		func() proto.Message { return &mmsbv1.CreatePagesRequest{} },
		func() proto.Message { return &mmsbv1.BindRequest{} },
		func() proto.Message { return &mmsbv1.WatchRequest{} },
		func() proto.Message { return &mmsbv1.QueryLogRequest{} },
		func() proto.Message { return &mmsbv1.SetMetadataRequest{} },
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, newMsg := range msgs {
			m := newMsg()
			b := newDecodeBudget(len(data))
			walkErr := b.walk(data, walkTableOf(m.ProtoReflect().Descriptor()), true)
			uerr := proto.Unmarshal(data, m)
			if errors.Is(walkErr, errWireMalformed) && uerr == nil {
				t.Fatalf("%T: the walk found malformed bytes that proto.Unmarshal decodes: %x", m, data)
			}
			if walkErr != nil && !errors.Is(walkErr, errWireMalformed) {
				t.Fatalf("%T: %v within the budget", m, walkErr)
			}
			cerr := protoCodec{}.Unmarshal(data, newMsg())
			if (cerr == nil) != (uerr == nil) {
				t.Fatalf("%T: codec %v, proto.Unmarshal %v", m, cerr, uerr)
			}
		}
	})
}

// TestProtoCodecAcceptsValidForms: requests the server decoded before
// the budget, built with the generated types (and by hand where a wire
// form has no Go spelling: unpacked repeated numbers, unknown fields of
// every wire type, a group, a known field sent with another wire type),
// pass the codec and decode to what proto.Unmarshal makes of them.
func TestProtoCodecAcceptsValidForms(t *testing.T) {
	runs := make([]*mmsbv1.Run, 3000)
	for i := range runs {
		runs[i] = &mmsbv1.Run{Off: uint32(i), Data: []byte{byte(i)}}
	}
	one := uint64(7)
	deltas := []*mmsbv1.Delta{
		{Page: 1, Runs: runs, Source: "s", Intent: []byte("i"), ExpectEpoch: &one},
		{Page: 2, Form: mmsbv1.DeltaForm_DELTA_FORM_MASKED_DENSE, Mask: []byte{0xff}, MaskLen: 8, Payload: make([]byte, 8)},
	}
	parents := make([]uint64, 5000)
	for i := range parents {
		parents[i] = uint64(i + 1)
	}
	// unpacked is field 4 (Bind's parents) or 2 (Watch's pages) with each
	// number as its own varint field: proto.Marshal packs, older and other
	// encoders may not.
	unpacked := func(num protowire.Number, vs []uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
		}
		return b
	}
	// unknown holds a field of a newer schema in each wire type, a
	// group with a nested field, and many empty unknown messages.
	unknown := protowire.AppendVarint(protowire.AppendTag(nil, 90, protowire.VarintType), 1)
	unknown = protowire.AppendFixed32(protowire.AppendTag(unknown, 91, protowire.Fixed32Type), 1)
	unknown = protowire.AppendFixed64(protowire.AppendTag(unknown, 92, protowire.Fixed64Type), 1)
	unknown = protowire.AppendTag(unknown, 93, protowire.StartGroupType)
	unknown = protowire.AppendBytes(protowire.AppendTag(unknown, 1, protowire.BytesType), []byte{0x0a, 0x00})
	unknown = protowire.AppendTag(unknown, 93, protowire.EndGroupType)
	for range 50000 {
		unknown = append(unknown, 0xf2, 0x05, 0x00) // field 94, empty
	}
	mustMarshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	withUnknown := func(b []byte) []byte { return append(append([]byte(nil), b...), unknown...) }
	for _, c := range []struct {
		name string
		data []byte
		msg  func() proto.Message
	}{
		{"commit of many one-byte runs", mustMarshal(&mmsbv1.CommitRequest{Deltas: deltas, Source: "src"}), func() proto.Message { return &mmsbv1.CommitRequest{} }},
		{"submit", mustMarshal(&mmsbv1.SubmitRequest{Deltas: deltas}), func() proto.Message { return &mmsbv1.SubmitRequest{} }},
		{"bind, packed parents", mustMarshal(&mmsbv1.BindRequest{Parents: parents}), func() proto.Message { return &mmsbv1.BindRequest{} }},
		{"bind, unpacked parents", unpacked(4, parents), func() proto.Message { return &mmsbv1.BindRequest{} }},
		{"watch, packed pages and ranges", mustMarshal(&mmsbv1.WatchRequest{Pages: parents, Ranges: []*mmsbv1.PageRange{{First: 1, Last: 9}, {}}}), func() proto.Message { return &mmsbv1.WatchRequest{} }},
		{"watch, unpacked pages", unpacked(2, parents), func() proto.Message { return &mmsbv1.WatchRequest{} }},
		{"query log kinds", mustMarshal(&mmsbv1.QueryLogRequest{Kinds: []string{"delta", "meta", "bind", "delta"}}), func() proto.Message { return &mmsbv1.QueryLogRequest{} }},
		{"create pages with metadata", mustMarshal(&mmsbv1.CreatePagesRequest{Pages: []*mmsbv1.PageSpec{{Size: 8, Meta: []*mmsbv1.MetaEntry{{Key: "k", Value: []byte("v")}, {Key: "e"}}}, {Size: 1}}}), func() proto.Message { return &mmsbv1.CreatePagesRequest{} }},
		{"commit with unknown fields at every depth", withUnknown(mustMarshal(&mmsbv1.CommitRequest{Deltas: []*mmsbv1.Delta{{Page: 1, Runs: []*mmsbv1.Run{{Data: withUnknown(nil)}}}}})), func() proto.Message { return &mmsbv1.CommitRequest{} }},
		{"read, items field sent as a number", append([]byte{0x08, 0x05}, mustMarshal(&mmsbv1.ReadRequest{Items: []*mmsbv1.ReadItem{{Page: 1, Length: 1}}})...), func() proto.Message { return &mmsbv1.ReadRequest{} }},
	} {
		got, want := c.msg(), c.msg()
		if err := proto.Unmarshal(c.data, want); err != nil {
			t.Fatalf("%s: proto.Unmarshal: %v", c.name, err)
		}
		if err := (protoCodec{}).Unmarshal(c.data, got); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !proto.Equal(got, want) {
			t.Errorf("%s: the codec decoded %v, proto.Unmarshal %v", c.name, got, want)
		}
	}
}

// metaPages is a CreatePagesRequest of pages of one byte, each with
// entries empty metadata entries ("1a 00").
func metaPages(pages, entries int) []byte { return metaPagesOf(pages, entries, "", "") }

// metaPagesOf is a CreatePagesRequest of pages of one byte, each with
// entries metadata entries of key and value.
func metaPagesOf(pages, entries int, key, value string) []byte {
	e := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), key)
	e = protowire.AppendString(protowire.AppendTag(e, 2, protowire.BytesType), value)
	if key == "" && value == "" {
		e = nil
	}
	p := []byte{0x10, 0x01}
	for range entries {
		p = protowire.AppendBytes(protowire.AppendTag(p, 3, protowire.BytesType), e)
	}
	var b []byte
	for range pages {
		b = protowire.AppendBytes(protowire.AppendTag(b, 1, protowire.BytesType), p)
	}
	return b
}

// TestProtoCodecAcceptsMetadata: a CreatePages of 300 pages with 8191
// empty metadata entries each (4.9 MB; the bus takes up to 8191 entries
// a page) passes the codec and decodes as proto.Unmarshal decodes it
// (the floor of the budget holds it), and so do, at the 64 MiB of
// --max-request-bytes by default, pages of realistic entries
// ("mmsb.type" = "f64") and a delta of runs of one byte; one of 4095
// pages of empty entries (67,108,860 bytes, 4 GB decoded) is refused
// naming mmsb.v1.PageSpec.meta. Control: the flat count of one element
// per 5 wire bytes (before 2026-12-07) refused the first with
// invalid_argument, though the server took it from JSON; at 64 bytes a
// wire byte (a1's bound) the last passed.
func TestProtoCodecAcceptsMetadata(t *testing.T) {
	data := metaPages(300, 8191)
	var got, want mmsbv1.CreatePagesRequest
	if err := (protoCodec{}).Unmarshal(data, &got); err != nil {
		t.Fatalf("Unmarshal of %d bytes: %v", len(data), err)
	}
	if err := proto.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, &want) || len(got.GetPages()) != 300 || len(got.GetPages()[299].GetMeta()) != 8191 {
		t.Fatalf("the codec decoded %d pages, unlike proto.Unmarshal", len(got.GetPages()))
	}
	const limit = 64 << 20 // --max-request-bytes by default
	md := want.ProtoReflect().Descriptor()
	page := len(metaPagesOf(1, 8191, "mmsb.type", "f64"))
	realistic := metaPagesOf(limit/page, 8191, "mmsb.type", "f64")
	if err := checkDecodeBudget(realistic, md); err != nil {
		t.Errorf("%d bytes of metadata entries mmsb.type=f64: %v; want it within the budget", len(realistic), err)
	}
	runs := oneByteRunDeltas(1, (limit-8)/5)
	if err := checkDecodeBudget(runs, (&mmsbv1.CommitRequest{}).ProtoReflect().Descriptor()); err != nil {
		t.Errorf("a delta of %d bytes of runs of one byte: %v; want it within the budget", len(runs), err)
	}
	big := metaPages(4095, 8191)
	if err := checkDecodeBudget(big, md); !errors.Is(err, ErrDecodeBudget) || !strings.Contains(err.Error(), "mmsb.v1.PageSpec.meta") {
		t.Fatalf("%d bytes of empty metadata entries: %v; want ErrDecodeBudget naming mmsb.v1.PageSpec.meta", len(big), err)
	}
}

// TestDecodeBudgetCoversDecode: for each shape of request with the most
// decoded bytes a wire byte (empty items, empty and one-byte runs,
// empty metadata entries, empty strings of a list, unpacked and packed
// numbers, packed chunks of one number, unknown fields), the walk's
// estimate is at least what proto.Unmarshal allocates decoding it, so
// that the budget (allocPerWireByte a wire byte + allocFloor) bounds the
// decode. Control: with a grown list counted at 5 times its bytes and
// no rounding for size classes (a1's estimate), it fell short of the
// decode for empty items, runs, kinds and packed chunks.
func TestDecodeBudgetCoversDecode(t *testing.T) {
	unknown := bytes.Repeat([]byte{0xf8, 0x01, 0x01}, 1<<16) // field 31, a varint
	kinds := bytes.Repeat([]byte{0x3a, 0x00}, 1<<16)
	var unpacked []byte
	for i := range 1 << 16 {
		unpacked = protowire.AppendVarint(protowire.AppendTag(unpacked, 4, protowire.VarintType), uint64(i%100+1))
	}
	for _, c := range []struct {
		name string
		data []byte
		m    func() proto.Message
	}{
		{"empty items", emptyItems(1 << 16), func() proto.Message { return &mmsbv1.ReadRequest{} }},
		{"empty runs", emptyRuns(1 << 16), func() proto.Message { return &mmsbv1.CommitRequest{} }},
		{"one-byte runs", oneByteRunDeltas(1, 1<<16), func() proto.Message { return &mmsbv1.CommitRequest{} }},
		{"one-byte runs of many deltas", oneByteRunDeltas(1<<8, 1<<8), func() proto.Message { return &mmsbv1.CommitRequest{} }},
		{"empty metadata entries", metaPages(8, 8191), func() proto.Message { return &mmsbv1.CreatePagesRequest{} }},
		{"realistic metadata entries", metaPagesOf(8, 8191, "mmsb.type", "f64"), func() proto.Message { return &mmsbv1.CreatePagesRequest{} }},
		{"empty kinds", kinds, func() proto.Message { return &mmsbv1.QueryLogRequest{} }},
		{"unpacked parents", unpacked, func() proto.Message { return &mmsbv1.BindRequest{} }},
		{"packed chunks", packedChunks(1 << 11), func() proto.Message { return &mmsbv1.BindRequest{} }},
		{"unknown fields", unknown, func() proto.Message { return &mmsbv1.ReadRequest{} }},
	} {
		b := decodeBudget{max: math.MaxInt64}
		m := c.m()
		if err := b.walk(c.data, walkTableOf(m.ProtoReflect().Descriptor()), true); err != nil {
			t.Fatalf("%s: walk: %v", c.name, err)
		}
		var err error
		alloc := allocatedBy(func() { err = proto.Unmarshal(c.data, c.m()) })
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if uint64(b.alloc) < alloc {
			t.Errorf("%s, %d bytes: the walk estimated %d bytes (%.1f a wire byte), the decode allocated %d (%.1f)",
				c.name, len(c.data), b.alloc, float64(b.alloc)/float64(len(c.data)), alloc, float64(alloc)/float64(len(c.data)))
		} else {
			t.Logf("%s, %d bytes: estimated %.1f a wire byte, allocated %.1f", c.name, len(c.data), float64(b.alloc)/float64(len(c.data)), float64(alloc)/float64(len(c.data)))
		}
	}
}

// packedChunks is a BindRequest whose parents come as n packed chunks
// of one number each ("22 01 01").
func packedChunks(n int) []byte { return bytes.Repeat([]byte{0x22, 0x01, 0x01}, n) }

// TestProtoCodecCountsNumbers: lists of numbers count in the budget. A
// BindRequest whose 2^15 parents come as packed chunks of one number
// each (96 KiB) made proto.Unmarshal copy the list for every chunk,
// 4 GiB allocated (the square of the count): the codec refuses it
// naming the field, having allocated less than 4 times its wire bytes,
// while one packed chunk of 2^20 parents and 2^20 unpacked ones pass.
// Control: before 2026-12-07 the walk did not count numbers and the
// codec decoded it.
func TestProtoCodecCountsNumbers(t *testing.T) {
	data := packedChunks(1 << 15)
	var err error
	alloc := allocatedBy(func() { err = protoCodec{}.Unmarshal(data, &mmsbv1.BindRequest{}) })
	if !errors.Is(err, ErrDecodeBudget) || !strings.Contains(err.Error(), "mmsb.v1.BindRequest.parents") {
		t.Fatalf("Unmarshal of %d packed chunks (%d bytes): %v, %d bytes allocated; want ErrDecodeBudget naming mmsb.v1.BindRequest.parents", 1<<15, len(data), err, alloc)
	}
	if alloc >= 4*uint64(len(data)) {
		t.Fatalf("Unmarshal of %d bytes allocated %d bytes; want less than 4 times the wire bytes", len(data), alloc)
	}
	parents := make([]uint64, maxBatch)
	for i := range parents {
		parents[i] = uint64(i + 1)
	}
	packed, err := proto.Marshal(&mmsbv1.BindRequest{Parents: parents})
	if err != nil {
		t.Fatal(err)
	}
	var unpacked []byte
	for _, p := range parents {
		unpacked = protowire.AppendVarint(protowire.AppendTag(unpacked, 4, protowire.VarintType), p)
	}
	for name, data := range map[string][]byte{"packed": packed, "unpacked": unpacked} {
		if err := checkDecodeBudget(data, (&mmsbv1.BindRequest{}).ProtoReflect().Descriptor()); err != nil {
			t.Errorf("%s parents: %v; want them within the budget", name, err)
		}
	}
}

// BenchmarkProtoCodecUnmarshalCommit: the codec's decode of a Commit of
// 64 deltas of 4 runs of 64 bytes, the walk included.
func BenchmarkProtoCodecUnmarshalCommit(b *testing.B) {
	data := benchCommit(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := (protoCodec{}).Unmarshal(data, &mmsbv1.CommitRequest{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBudgetCommit: the walk alone, over the same Commit.
func BenchmarkDecodeBudgetCommit(b *testing.B) {
	data := benchCommit(b)
	md := (&mmsbv1.CommitRequest{}).ProtoReflect().Descriptor()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := checkDecodeBudget(data, md); err != nil {
			b.Fatal(err)
		}
	}
}

// benchCommit is a CommitRequest of 64 deltas of 4 runs of 64 bytes.
func benchCommit(b *testing.B) []byte {
	deltas := make([]*mmsbv1.Delta, 64)
	for i := range deltas {
		runs := make([]*mmsbv1.Run, 4)
		for j := range runs {
			runs[j] = &mmsbv1.Run{Off: uint32(j * 128), Data: bytes.Repeat([]byte{byte(j)}, 64)}
		}
		deltas[i] = &mmsbv1.Delta{Page: uint64(i + 1), Runs: runs}
	}
	data, err := proto.Marshal(&mmsbv1.CommitRequest{Deltas: deltas})
	if err != nil {
		b.Fatal(err)
	}
	return data
}
