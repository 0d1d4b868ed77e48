package page

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestSetMeta(t *testing.T) {
	s := newStore(t)
	sl := mustCreate(t, s, 1, 16)
	other := mustCreate(t, s, 2, 16)
	val := []byte("one")
	in := []MetaEntry{{"a", val}, {"b", []byte("2")}, {"a", []byte("three")}, {"", nil}}
	if err := s.SetMeta(sl, in); err != nil {
		t.Fatal(err)
	}
	want := []MetaEntry{{"a", []byte("three")}, {"b", []byte("2")}, {"", nil}}
	if got := s.Meta(sl); !MetaEqual(got, want) {
		t.Fatalf("Meta = %q, want %q (first position, last value)", got, want)
	}
	in[1].Value[0] = 'X'
	if s.Meta(sl)[1].Value[0] != '2' {
		t.Fatal("SetMeta did not copy values")
	}
	if s.Meta(other) != nil {
		t.Fatal("metadata leaked to another page")
	}
	if got, want := s.Stats().KVBytes, int64(len(AppendMeta(nil, want))); got != want {
		t.Fatalf("KVBytes = %d, want %d", got, want)
	}

	big := []MetaEntry{{"k", make([]byte, MaxMetaBytes)}}
	if err := s.SetMeta(sl, big); !errors.Is(err, ErrMetaTooLarge) || !strings.Contains(err.Error(), "page 1") {
		t.Fatalf("oversized SetMeta = %v, want ErrMetaTooLarge naming page 1", err)
	}
	if !MetaEqual(s.Meta(sl), want) {
		t.Fatal("failed SetMeta changed the metadata")
	}
	exact := []MetaEntry{{"k", make([]byte, MaxMetaBytes-4-8-1)}}
	if err := s.SetMeta(sl, exact); err != nil {
		t.Fatalf("SetMeta at exactly MaxMetaBytes: %v", err)
	}
	if err := s.SetMeta(sl, nil); err != nil || s.Meta(sl) != nil || s.Stats().KVBytes != 0 {
		t.Fatalf("clearing metadata: err %v, meta %v, KVBytes %d", err, s.Meta(sl), s.Stats().KVBytes)
	}

	if err := s.SetMeta(sl, []MetaEntry{{"x", []byte("y")}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Free(1); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMeta(sl, []MetaEntry{{"x", nil}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetMeta on a freed slot = %v, want ErrNotFound", err)
	}
	again := mustCreate(t, s, 3, 16)
	if again != sl || s.Meta(again) != nil || s.Stats().KVBytes != 0 {
		t.Fatal("metadata survived Free into the reused slot")
	}
}

func TestSetMetaManyDuplicates(t *testing.T) {
	s := newStore(t)
	sl := mustCreate(t, s, 1, 8)
	var in []MetaEntry
	for i := range 100 {
		in = append(in, MetaEntry{string(rune('a' + i%26)), []byte{byte(i)}})
	}
	if err := s.SetMeta(sl, in); err != nil {
		t.Fatal(err)
	}
	got := s.Meta(sl)
	if len(got) != 26 {
		t.Fatalf("%d entries, want 26", len(got))
	}
	for i, e := range got {
		if e.Key != string(rune('a'+i)) || e.Value[0] != byte(3*26+i) && e.Value[0] != byte(2*26+i) {
			t.Fatalf("entry %d = %q %v", i, e.Key, e.Value)
		}
	}
	if got[0].Value[0] != 78 || got[25].Value[0] != 77 {
		t.Fatalf("last value does not win: %v %v", got[0].Value, got[25].Value)
	}
}

func TestMetaEncoding(t *testing.T) {
	tests := []struct {
		name    string
		entries []MetaEntry
		want    []byte
	}{
		{"none", nil, []byte{}},
		{"one", []MetaEntry{{"k", []byte("vv")}}, []byte{1, 0, 0, 0, 1, 0, 0, 0, 'k', 2, 0, 0, 0, 'v', 'v'}},
		{"empty-key-and-value", []MetaEntry{{"", nil}}, []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendMeta([]byte{}, tc.entries)
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("AppendMeta = %v, want %v", got, tc.want)
			}
			back, err := DecodeMeta(got)
			if err != nil || !MetaEqual(back, tc.entries) {
				t.Fatalf("DecodeMeta = %q, %v", back, err)
			}
		})
	}
}

func TestDecodeMetaBadInput(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"short-count", []byte{1, 0}, ErrBadMeta, "need 4"},
		{"zero-count", []byte{0, 0, 0, 0}, ErrBadMeta, "zero entry count"},
		{"count-too-big", []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, ErrBadMeta, "does not fit"},
		{"key-len-overflow", []byte{1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, ErrBadMeta, "key length"},
		{"value-len-truncated", []byte{1, 0, 0, 0, 1, 0, 0, 0, 'k', 0, 0, 0}, ErrBadMeta, "value length"},
		{"value-short", []byte{1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 'a'}, ErrBadMeta, "value length 5"},
		{"trailing", []byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9}, ErrBadMeta, "1 trailing"},
		{"second-key-short", []byte{2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0}, ErrBadMeta, "entry 1: key length 5"},
		{"too-large", make([]byte, MaxMetaBytes+1), ErrMetaTooLarge, "limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeMeta(tc.in)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("DecodeMeta = %q, %v; want %v mentioning %q", got, err, tc.want, tc.msg)
			}
		})
	}
}

func TestDecodeMetaOwnsMemory(t *testing.T) {
	enc := AppendMeta(nil, []MetaEntry{{"key", []byte("value")}})
	got, err := DecodeMeta(enc)
	if err != nil {
		t.Fatal(err)
	}
	clear(enc)
	if got[0].Key != "key" || string(got[0].Value) != "value" {
		t.Fatalf("decoded entries alias the input: %q", got)
	}
}

var metaEntryGen = rapid.Custom(func(t *rapid.T) MetaEntry {
	return MetaEntry{
		Key:   rapid.StringN(0, 12, 48).Draw(t, "key"),
		Value: rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(t, "value"),
	}
})

// The codec law: DecodeMeta is a left inverse of AppendMeta, and AppendMeta
// appends (the prefix is untouched).
func TestMetaRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		entries := rapid.SliceOfN(metaEntryGen, 0, 20).Draw(t, "entries")
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		enc := AppendMeta(bytes.Clone(prefix), entries)
		if !bytes.Equal(enc[:len(prefix)], prefix) {
			t.Fatalf("prefix clobbered")
		}
		if len(enc)-len(prefix) != encodedMetaSize(entries) {
			t.Fatalf("encoded %d bytes, encodedMetaSize says %d", len(enc)-len(prefix), encodedMetaSize(entries))
		}
		back, err := DecodeMeta(enc[len(prefix):])
		if err != nil {
			t.Fatalf("DecodeMeta: %v", err)
		}
		if !MetaEqual(back, entries) {
			t.Fatalf("round trip: got %q want %q", back, entries)
		}
	})
}

// SetMeta is idempotent and its result has distinct keys whose values are
// the last given for each key.
func TestSetMetaProperty(t *testing.T) {
	s := newStore(t)
	sl := mustCreate(t, s, 1, 8)
	rapid.Check(t, func(t *rapid.T) {
		keys := rapid.SampledFrom([]string{"a", "b", "c", "d", "", "long-key"})
		entries := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) MetaEntry {
			return MetaEntry{keys.Draw(t, "k"), rapid.SliceOfN(rapid.Byte(), 0, 4).Draw(t, "v")}
		}), 0, 30).Draw(t, "entries")
		if err := s.SetMeta(sl, entries); err != nil {
			t.Fatal(err)
		}
		got := s.Meta(sl)
		seen := map[string]bool{}
		for _, e := range got {
			if seen[e.Key] {
				t.Fatalf("duplicate key %q", e.Key)
			}
			seen[e.Key] = true
			var last []byte
			for _, in := range entries {
				if in.Key == e.Key {
					last = in.Value
				}
			}
			if !bytes.Equal(e.Value, last) {
				t.Fatalf("key %q = %v, last given %v", e.Key, e.Value, last)
			}
		}
		if len(seen) != len(got) || (len(entries) == 0) != (got == nil) {
			t.Fatalf("bad result %q for %q", got, entries)
		}
		again := append([]MetaEntry(nil), got...)
		if err := s.SetMeta(sl, again); err != nil || !MetaEqual(s.Meta(sl), got) {
			t.Fatalf("SetMeta not idempotent")
		}
	})
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendMeta(nil, []MetaEntry{{"k", []byte("v")}, {"", nil}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		entries, err := DecodeMeta(in)
		if err != nil {
			if entries != nil {
				t.Fatalf("entries %q returned with error %v", entries, err)
			}
			if !errors.Is(err, ErrBadMeta) && !errors.Is(err, ErrMetaTooLarge) {
				t.Fatalf("refusal of %x wraps no sentinel: %v", in, err)
			}
			return
		}
		// Accepted encodings are canonical: re-encoding reproduces them.
		if out := AppendMeta(nil, entries); !bytes.Equal(out, in) {
			t.Fatalf("re-encoding %x gave %x", in, out)
		}
	})
}

// TestDecodeMetaSeedsDecode is FuzzDecodeMeta's control: its valid seeds
// decode to what was encoded, so a decoder that refused everything (which
// the fuzz property alone would let pass) fails here.
func TestDecodeMetaSeedsDecode(t *testing.T) {
	for _, want := range [][]MetaEntry{{{"k", []byte("v")}, {"", nil}}, {{"mmsb.type", []byte("f64")}}} {
		got, err := DecodeMeta(AppendMeta(nil, want))
		if err != nil || len(got) != len(want) {
			t.Fatalf("DecodeMeta of %q: %q, %v", want, got, err)
		}
		for i := range want {
			if got[i].Key != want[i].Key || !bytes.Equal(got[i].Value, want[i].Value) {
				t.Fatalf("entry %d: %q, want %q", i, got[i], want[i])
			}
		}
	}
	if got, err := DecodeMeta(nil); err != nil || got != nil {
		t.Fatalf("DecodeMeta of no bytes: %q, %v; want no entries", got, err)
	}
}
