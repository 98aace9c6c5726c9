package jsondoc

import (
	"encoding/json"
	"strings"
	"testing"
)

type inner struct {
	A int `json:"a"`
}

type embedded struct {
	E bool `json:"e"`
}

type doc struct {
	Version int             `json:"version"`
	Name    string          `json:"name,omitempty"`
	In      *inner          `json:"in"`
	List    []inner         `json:"list"`
	Raw     json.RawMessage `json:"raw"`
	Bytes   []byte          `json:"bytes"`
	Skip    int             `json:"-"`
	hidden  int
	embedded
}

func TestDecode(t *testing.T) {
	var d doc
	ok := `{"version":1,"name":"x","in":{"a":2},"list":[{"a":3}],"raw":{"anything":1},"bytes":"AAE=","e":true,"kind":"k"}`
	if err := Decode("test doc", []byte(ok), &d, "kind"); err != nil {
		t.Fatal(err)
	}
	if d.Version != 1 || d.In.A != 2 || d.List[0].A != 3 || !d.E || len(d.Bytes) != 2 {
		t.Fatalf("decoded %+v", d)
	}
	for in, want := range map[string]string{
		`{"versoin":1}`:              `test doc: unknown key "versoin" (allowed: bytes, e, in, kind, list, name, raw, version)`,
		`{"in":{"a":1,"b":2}}`:       `test doc: unknown key "in.b" (allowed in in: a)`,
		`{"list":[{"a":1},{"c":1}]}`: `unknown key "list.1.c" (allowed in list.1: a)`,
		`{"Version":1}`:              `unknown key "Version"`,
		`{"-":1}`:                    `unknown key "-"`,
		`{"hidden":1}`:               `unknown key "hidden"`,
		`{"Skip":1}`:                 `unknown key "Skip"`,
		`[1]`:                        `test doc: not a JSON object`,
		`{"version":"1"}`:            `test doc is not valid: "version" must be an integer, got a JSON string`,
		`{"version":1} x`:            `not a JSON object`,
	} {
		var d doc
		err := Decode("test doc", []byte(in), &d, "kind")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
}

func TestNullsAndWrongShapesAreLeftToUnmarshal(t *testing.T) {
	var d doc
	if err := Decode("d", []byte(`{"in":null,"list":null}`), &d); err != nil {
		t.Fatal(err)
	}
	if err := Decode("d", []byte(`{"in":[1]}`), &d); err == nil || !strings.Contains(err.Error(), `"in" must be an object`) {
		t.Fatalf("error %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"in":{"a":2},"list":[{"a":3}]}`))
	f.Add([]byte(`{"in":{"b":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var d doc
		if err := Decode("d", b, &d); err == nil {
			// Accepted documents hold known keys only: a re-encoding decodes again.
			out, _ := json.Marshal(d)
			var d2 doc
			if err := Decode("d", out, &d2); err != nil {
				t.Fatalf("re-encoded %s refused: %v", out, err)
			}
		}
	})
}
