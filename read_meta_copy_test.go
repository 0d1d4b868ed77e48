package mmsb

import (
	"testing"
)

// Page and Pages return metadata the caller owns: writing into a returned
// value must not change the bus's metadata (which would bypass the log).
func TestPageInfoMetaIsACopy(t *testing.T) {
	e := openMem(t, nil)
	ids, err := e.CreatePages(ctx, []PageSpec{{Size: 8, Meta: []MetaEntry{{Key: "k", Value: []byte("value")}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := ids[0]
	read := map[string]func() (PageInfo, error){
		"Page": func() (PageInfo, error) { return e.Page(id) },
		"Pages": func() (PageInfo, error) {
			ps, err := e.Pages()
			if err != nil || len(ps) != 1 {
				t.Fatalf("Pages() = %v, %v", ps, err)
			}
			return ps[0], nil
		},
	}
	for _, name := range []string{"Page", "Pages"} {
		info, err := read[name]()
		if err != nil || len(info.Meta) != 1 {
			t.Fatalf("%s(%d) = %+v, %v", name, id, info, err)
		}
		copy(info.Meta[0].Value, "XXXXX")
		info.Meta[0].Key = "changed"
		again, err := e.Page(id)
		if err != nil {
			t.Fatal(err)
		}
		if got := again.Meta[0]; got.Key != "k" || string(got.Value) != "value" {
			t.Fatalf("after writing into the metadata %s returned, the page's metadata is %s=%q; want k=\"value\"", name, got.Key, got.Value)
		}
	}
}
