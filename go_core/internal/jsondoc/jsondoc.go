// Package jsondoc decodes the JSON documents golat's core reads (the run, pool and server
// documents and the workload specs), strictly: a key that names no field, at any depth, is
// an error that names the key and the keys allowed there. Keys match exactly (encoding/json
// alone would accept "Workers" for "workers" and drop "wokers" without a word).
package jsondoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

var rawType = reflect.TypeOf(json.RawMessage(nil))

// Decode unmarshals doc into v, a pointer to a struct, after checking every key of doc
// against v's fields. what names the document in errors ("run config", "workload spin").
// extra lists keys allowed at the top level beside v's fields (a workload's "kind").
// Fields of type json.RawMessage are not looked into: their own decoder checks them.
func Decode(what string, doc []byte, v any, extra ...string) error {
	if err := check(reflect.TypeOf(v), doc, "", extra); err != nil {
		return fmt.Errorf("%s: %v", what, err)
	}
	if err := json.Unmarshal(doc, v); err != nil {
		return fmt.Errorf("%s is not valid: %v", what, describe(err))
	}
	return nil
}

// describe makes encoding/json's errors read as golat's: the key and the type it needs.
func describe(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("%q must be %s, got a JSON %s", te.Field, kindName(te.Type), te.Value)
	}
	return err.Error()
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return t.String()
}

// check walks doc beside t. Values of the wrong JSON type are left to json.Unmarshal.
func check(t reflect.Type, doc []byte, path string, extra []string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawType || bytes.Equal(bytes.TrimSpace(doc), []byte("null")) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(doc, &obj); err != nil {
			if path == "" {
				return fmt.Errorf("not a JSON object: %v", err)
			}
			return nil
		}
		fields := fieldsOf(t)
		for _, k := range sortedKeys(obj) {
			ft, ok := fields[k]
			if !ok {
				if contains(extra, k) {
					continue
				}
				return fmt.Errorf("unknown key %q (allowed%s: %s)", path+k, where(path), allowed(fields, extra))
			}
			if err := check(ft, obj[k], path+k+".", nil); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // []byte: base64 text
		}
		var items []json.RawMessage
		if json.Unmarshal(doc, &items) != nil {
			return nil
		}
		for i, it := range items {
			if err := check(t.Elem(), it, fmt.Sprintf("%s%d.", path, i), nil); err != nil {
				return err
			}
		}
	case reflect.Map:
		var obj map[string]json.RawMessage
		if json.Unmarshal(doc, &obj) != nil {
			return nil
		}
		for _, k := range sortedKeys(obj) {
			if err := check(t.Elem(), obj[k], path+k+".", nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// fieldsOf maps each JSON key of struct type t to its field's type, embedded structs'
// fields included (as encoding/json promotes them).
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			et := ft
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range fieldsOf(et) {
					if _, dup := out[k]; !dup {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}

func where(path string) string {
	if path == "" {
		return ""
	}
	return " in " + strings.TrimSuffix(path, ".")
}

func allowed(fields map[string]reflect.Type, extra []string) string {
	names := append([]string(nil), extra...)
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func sortedKeys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
