// Command golatrun runs a golat run document in a pure Go process, with no Python and no
// cgo boundary: the reference that benchmarks/ compares golat.run against.
//
//	golatrun < run.json   # prints {"report": ..., "latency_p50_ns": ..., ...}
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	_ "golat/go_core/internal/httpload" // the "http" workload, as in the library
	"golat/go_core/internal/loop"
)

func main() {
	doc, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	r, err := loop.Start(doc)
	if err != nil {
		fail(err)
	}
	rep, _ := r.Result()
	lat, svc, err := r.Merged()
	if err != nil {
		fail(err)
	}
	out := map[string]any{"report": rep}
	for _, q := range []float64{50, 90, 99, 99.9, 99.99} {
		out[fmt.Sprintf("latency_p%g_ns", q)] = lat.ValueAtQuantile(q)
		out[fmt.Sprintf("service_p%g_ns", q)] = svc.ValueAtQuantile(q)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "golatrun:", err)
	os.Exit(2)
}
