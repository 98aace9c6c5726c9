// Package workload holds the request bodies golat's loops run. Each kind registers a
// decoder for its JSON spec, so a new workload is one new file.
package workload

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"golat/go_core/internal/jsondoc"
)

// Request serves one request. It must not allocate unless allocating is its job.
type Request func()

// Workload builds the per-worker state of one workload kind.
type Workload interface {
	// NewWorker runs on the worker's own goroutine (its locked thread, when locked), so
	// buffers it allocates follow that thread's memory policy. close is never nil.
	NewWorker(id, workers int) (req Request, close func(), err error)
}

// Stoppable is implemented by workloads whose request can take long (a spin of up to a
// minute): the loop builds their workers with the run's stop flag, and a request cuts its
// work short once it is set, so a run stops within 200 ms whatever it serves.
type Stoppable interface {
	NewStoppableWorker(id, workers int, stop *atomic.Bool) (req Request, close func(), err error)
}

// Stopper is implemented by workloads that can end a run early (a Python callable that
// raised too often); the loop asks after each request.
type Stopper interface {
	Stopped() bool
}

// Spec is the wire form: {"kind": "spin", ...kind-specific fields}.
type Spec struct {
	Kind string `json:"kind"`
}

// Decoder turns a full JSON spec into a Workload, validating it.
type Decoder func(raw json.RawMessage) (Workload, error)

var (
	mu       sync.Mutex
	decoders = map[string]Decoder{}
)

// Register adds a workload kind; it panics on a duplicate (a programming error).
func Register(kind string, d Decoder) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := decoders[kind]; dup {
		panic("workload: duplicate kind " + kind)
	}
	decoders[kind] = d
}

// Kinds lists the registered kinds, sorted.
func Kinds() []string {
	mu.Lock()
	defer mu.Unlock()
	out := make([]string, 0, len(decoders))
	for k := range decoders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Decode builds the workload a JSON spec names.
func Decode(raw json.RawMessage) (Workload, error) {
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("workload spec is not a JSON object with a \"kind\": %v", err)
	}
	mu.Lock()
	d, ok := decoders[s.Kind]
	mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown workload kind %q (known: %v)", s.Kind, Kinds())
	}
	return d(raw)
}

// DecodeSpec decodes a kind's spec into v strictly: a key that is not one of v's fields
// (or "kind") is an error naming it.
func DecodeSpec(kind string, raw json.RawMessage, v any) error {
	return jsondoc.Decode("workload "+kind, raw, v, "kind")
}

// Echo is the workload w as the core decoded it, in the wire form (defaults filled in):
// what a run reports that it ran. Workloads marshal their spec fields (exported, tagged).
func Echo(raw json.RawMessage, w Workload) (json.RawMessage, error) {
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	fields := map[string]json.RawMessage{}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	fields["kind"], _ = json.Marshal(s.Kind)
	return json.Marshal(fields)
}

func nop() {}

// Classifier is implemented by workloads whose requests end in an outcome class (an HTTP
// status code). After each request the loop asks the class of the worker's last request
// and keeps one latency histogram per class, so a run's latency splits by outcome.
type Classifier interface {
	// LastClass is the class of worker's last request; it is called on that worker's
	// goroutine only, right after the request returned.
	LastClass(worker int) int
	// ClassLabel names a class for reports, e.g. "200 GET /".
	ClassLabel(class int) string
}

// RunReporter is implemented by workloads with something to add to the run's report (the
// port of an in-process server, reconnects, errors ...). RunReport is called once, after
// every worker has stopped and closed. (Reporter is the per-worker twin.)
type RunReporter interface {
	RunReport() any
}
