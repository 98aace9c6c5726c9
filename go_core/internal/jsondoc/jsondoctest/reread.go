// Package jsondoctest holds what the fuzzers of the core's documents check alike; only
// tests import it.
package jsondoctest

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Rereads fails t unless a document v that parse accepted encodes, is accepted again
// from its own JSON, and encodes the same the second time.
func Rereads[T any](t testing.TB, v T, parse func([]byte) (T, error)) {
	t.Helper()
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("accepted document does not encode: %v", err)
	}
	v2, err := parse(again)
	if err != nil {
		t.Fatalf("accepted document refused on re-read: %v\n%s", err, again)
	}
	if third, _ := json.Marshal(v2); !bytes.Equal(again, third) {
		t.Fatalf("document changed on re-read:\n%s\n%s", again, third)
	}
}
