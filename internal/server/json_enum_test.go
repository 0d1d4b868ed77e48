package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/http"
	"strings"
	"testing"

	"github.com/mmsb-go/mmsb"
)

// TestJSONUnknownEnumRefused: a JSON request naming an enum value the
// schema does not know is refused with invalid_argument naming the field
// and the value, and nothing is applied; Connect's JSON codec discarded
// such a value, leaving the field at its zero value, so that a RemoveEdge
// of a misspelt type removed the page's data edge and an AddEdge added
// one. An unknown field is still ignored (a client with a newer schema
// is served), and a known name still decodes.
func TestJSONUnknownEnumRefused(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bus.AddEdge(ctx, ids[0], ids[1], mmsb.EdgeData); err != nil {
		t.Fatal(err)
	}
	post := func(method, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(f.http.URL+"/mmsb.v1.BusService/"+method, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	for _, c := range []struct{ method, body, field string }{
		{"RemoveEdge", `{"parent":"1","child":"2","type":"EDGE_TYPE_CONTRL"}`, "type"},
		{"AddEdge", `{"parent":"1","child":"3","type":"EDGE_TYPE_CONTRL"}`, "type"},
		{"Commit", `{"deltas":[{"page":"1","form":"DELTA_FORM_MASKED_DENS","mask":"Aw==","maskLen":8,"payload":"eHk="}]}`, "form"},
	} {
		lsn := f.bus.LastLSN()
		code, answer := post(c.method, c.body)
		if code != http.StatusBadRequest || !strings.Contains(answer, `"code":"invalid_argument"`) ||
			!strings.Contains(answer, "field "+c.field) || !strings.Contains(answer, "_CONTRL") && !strings.Contains(answer, "_DENS") {
			t.Errorf("%s %s: HTTP %d %s; want invalid_argument naming the field %q and the value", c.method, c.body, code, answer, c.field)
		}
		if got := f.bus.LastLSN(); got != lsn {
			t.Errorf("%s with an unknown enum name was applied: last LSN %d, was %d", c.method, got, lsn)
		}
	}
	if edges := f.bus.Edges(); len(edges) != 1 || edges[0].Parent != ids[0] || edges[0].Child != ids[1] || edges[0].Type != mmsb.EdgeData {
		t.Errorf("the edges after the refused AddEdge and RemoveEdge: %+v; want the data edge %d -> %d alone", edges, ids[0], ids[1])
	}

	// So over gRPC-Web in JSON, whose messages the same codec decodes.
	body := `{"parent":"1","child":"2","type":"EDGE_TYPE_CONTRL"}`
	env := append(binary.BigEndian.AppendUint32([]byte{0}, uint32(len(body))), body...)
	lsn := f.bus.LastLSN()
	resp, err := http.Post(f.http.URL+"/mmsb.v1.BusService/RemoveEdge", "application/grpc-web+json", bytes.NewReader(env))
	if err != nil {
		t.Fatal(err)
	}
	var trailer bytes.Buffer
	_, _ = trailer.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	status, msg := resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	if status == "" { // the status in the body's trailer frame
		status, msg = "", trailer.String()
		if strings.Contains(msg, "grpc-status:3") || strings.Contains(msg, "grpc-status: 3") {
			status = "3"
		}
	}
	if status != "3" || !strings.Contains(msg, "type") {
		t.Errorf("gRPC-Web JSON RemoveEdge %s: grpc-status %q, %q; want 3 (invalid_argument) naming the field", body, status, msg)
	}
	if got := f.bus.LastLSN(); got != lsn {
		t.Errorf("gRPC-Web JSON RemoveEdge with an unknown enum name was applied: last LSN %d, was %d", got, lsn)
	}

	// An unknown field is ignored; a known enum name decodes.
	if code, answer := post("AddEdge", `{"parent":"1","child":"3","type":"EDGE_TYPE_CONTROL","fromANewerSchema":1}`); code != http.StatusOK {
		t.Fatalf("AddEdge with an unknown field: HTTP %d %s; want it served", code, answer)
	}
	if code, answer := post("RemoveEdge", `{"parent":"1","child":"3","type":"EDGE_TYPE_CONTROL"}`); code != http.StatusOK {
		t.Fatalf("RemoveEdge of the control edge just added: HTTP %d %s", code, answer)
	}
}

// TestJSONUnknownEnumBesideUnknownField: an unknown enum name is refused
// also in a request that holds an unknown field, which has the codec
// decode it a second time with unknown fields discarded, unknown enum
// names with them: until 2026-12-07 a RemoveEdge with a field of a newer
// schema and a misspelt type removed the page's data edge. Enum names
// in a repeated message (Commit's deltas) and under the proto field name
// are checked alike; known names, numbers and null still decode.
func TestJSONUnknownEnumBesideUnknownField(t *testing.T) {
	f := newFixture(t, fixOpts{})
	ctx := context.Background()
	ids, err := f.c.CreatePages(ctx, []mmsb.PageSpec{{Size: 8}, {Size: 8}, {Size: 8}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bus.AddEdge(ctx, ids[0], ids[1], mmsb.EdgeData); err != nil {
		t.Fatal(err)
	}
	post := func(method, body string) (int, string) {
		t.Helper()
		resp, err := http.Post(f.http.URL+"/mmsb.v1.BusService/"+method, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	for _, c := range []struct{ method, body, field, value string }{
		{"RemoveEdge", `{"parent":"1","child":"2","fromANewerSchema":{"a":[1e999,"b"]},"type":"EDGE_TYPE_CONTRL"}`, "type", "EDGE_TYPE_CONTRL"},
		{"RemoveEdge", `{"type":"EDGE_TYPE_CONTRL","parent":"1","child":"2","fromANewerSchema":1}`, "type", "EDGE_TYPE_CONTRL"},
		{"AddEdge", `{"parent":"1","child":"3","newer":null,"type":"EDGE_TYPE_CONTRL"}`, "type", "EDGE_TYPE_CONTRL"},
		{"Commit", `{"deltas":[{"page":"1","runs":[{"off":0,"data":"eHk="}]},{"page":"1","newer":"x","form":"DELTA_FORM_MASKED_DENS","mask":"Aw==","mask_len":8,"payload":"eHk="}]}`, "form", "DELTA_FORM_MASKED_DENS"},
	} {
		lsn := f.bus.LastLSN()
		code, answer := post(c.method, c.body)
		if code != http.StatusBadRequest || !strings.Contains(answer, `"code":"invalid_argument"`) ||
			!strings.Contains(answer, "field "+c.field) || !strings.Contains(answer, c.value) {
			t.Errorf("%s %s: HTTP %d %s; want invalid_argument naming the field %q and the value %q", c.method, c.body, code, answer, c.field, c.value)
		}
		if got := f.bus.LastLSN(); got != lsn {
			t.Errorf("%s with an unknown enum name beside an unknown field was applied: last LSN %d, was %d", c.method, got, lsn)
		}
	}
	if edges := f.bus.Edges(); len(edges) != 1 || edges[0].Parent != ids[0] || edges[0].Child != ids[1] || edges[0].Type != mmsb.EdgeData {
		t.Errorf("the edges after the refused AddEdge and RemoveEdge: %+v; want the data edge %d -> %d alone", edges, ids[0], ids[1])
	}

	// Beside an unknown field, a known name, a number and null decode.
	for _, c := range []struct{ method, body string }{
		{"AddEdge", `{"parent":"1","child":"3","newer":[{"type":"NOT_OURS"}],"type":"EDGE_TYPE_CONTROL"}`},
		{"RemoveEdge", `{"parent":"1","child":"3","newer":1,"type":2}`},
		{"Commit", `{"deltas":[{"page":"1","form":null,"newer":true,"runs":[{"off":0,"data":"eHk="}]}]}`},
	} {
		if code, answer := post(c.method, c.body); code != http.StatusOK {
			t.Errorf("%s %s: HTTP %d %s; want it served", c.method, c.body, code, answer)
		}
	}
}

// TestJSONUnknownEnumQuoteCut: a JSON request naming an enum value of a
// megabyte the schema does not know, and no unknown field, is refused
// with invalid_argument naming the field and quoting the value's first
// bytes and its length, not the whole value: until 2026-12-07 the strict
// decode's refusal quoted all of it, echoed in the answer (over 1 MB).
// With an unknown field beside it (the walk's refusal already) and with
// a short name (quoted whole) it is refused alike.
func TestJSONUnknownEnumQuoteCut(t *testing.T) {
	f := newFixture(t, fixOpts{})
	huge := strings.Repeat("X", 1<<20)
	for _, c := range []struct{ body, want string }{
		{`{"parent":"1","child":"2","type":"` + huge + `"}`, `(1048576 bytes)`},
		{`{"parent":"1","child":"2","type":"` + huge + `","newer":1}`, `(1048576 bytes)`},
		{`{"parent":"1","child":"2","type":"EDGE_TYPE_CONTRL"}`, `: \"EDGE_TYPE_CONTRL\""`},
	} {
		code, answer := postJSON(t, f.http.URL, "RemoveEdge", c.body, nil)
		if code != http.StatusBadRequest || !strings.Contains(answer, `"code":"invalid_argument"`) || !strings.Contains(answer, "field type") ||
			!strings.Contains(answer, c.want) || len(answer) > 1024 {
			if len(answer) > 300 {
				answer = answer[:300] + "…"
			}
			t.Errorf("RemoveEdge with the type %.40q…: HTTP %d, %d bytes: %s; want invalid_argument naming the field and %s, under 1 KiB",
				c.body[34:], code, len(answer), answer, c.want)
		}
	}
}
