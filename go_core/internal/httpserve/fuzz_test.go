package httpserve

import (
	"testing"

	"golat/go_core/internal/jsondoc/jsondoctest"
	"golat/go_core/internal/workload"
)

// FuzzParseServerDocument: whatever the bytes, Parse returns an error or a Config that
// validates, reads back the same from its own JSON, and whose handler decodes or is
// refused with an error (never a panic).
func FuzzParseServerDocument(f *testing.F) {
	for _, s := range []string{
		`{"version":1}`,
		`{"version":1,"host":"::1","port":8080,"path":"/x","body_bytes":100,"workers":4,"handler":{"kind":"spin","ns":1000}}`,
		`{"version":1,"host":"0.0.0.0","allow_remote":true,"metrics_path":"","read_header_timeout_ns":1,"idle_timeout_ns":9223372036854775807}`,
		`{"version":1,"path":"/metrics"}`,
		`{"version":1,"handler":{"kind":"nope"}}`,
		`{"version":1,"gc":{"gc_percent":-1,"memory_limit":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := Parse(doc)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		jsondoctest.Rereads(t, c, Parse)
		if len(c.Handler) > 0 {
			if wl, err := workload.Decode(c.Handler); err == nil && wl == nil {
				t.Fatal("nil handler workload without an error")
			}
		}
	})
}
