// Package gcctl reads and changes the collector's settings and reads the runtime's
// metrics (GC cycles, pause and scheduler-latency histograms, heap) for snapshots.
package gcctl

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Off is the GC percent that turns the collector off (GOGC=off).
const Off = -1

// SetPercent sets the GC percent and returns the previous value.
func SetPercent(p int) int { return debug.SetGCPercent(p) }

// Percent returns the GC percent without changing it.
func Percent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

// SetMemoryLimit sets the soft memory limit (bytes) and returns the previous one;
// a negative value only reads it.
func SetMemoryLimit(b int64) int64 { return debug.SetMemoryLimit(b) }

// Settings is what a run changes and must put back.
type Settings struct {
	Percent     *int   `json:"gc_percent,omitempty"`
	MemoryLimit *int64 `json:"memory_limit,omitempty"`
}

// Apply applies s and returns the undo function, never nil.
func Apply(s Settings) (undo func()) {
	var undos []func()
	if s.Percent != nil {
		prev := debug.SetGCPercent(*s.Percent)
		undos = append(undos, func() { debug.SetGCPercent(prev) })
	}
	if s.MemoryLimit != nil {
		prev := debug.SetMemoryLimit(*s.MemoryLimit)
		undos = append(undos, func() { debug.SetMemoryLimit(prev) })
	}
	return func() {
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i]()
		}
	}
}

// Hist is a runtime/metrics float64 histogram in JSON-friendly form: Counts[i] counts
// values in [Buckets[i], Buckets[i+1]); infinite edges are encoded as +-1e300.
type Hist struct {
	Buckets []float64 `json:"buckets"`
	Counts  []uint64  `json:"counts"`
}

// Snapshot is one reading of the runtime's state.
type Snapshot struct {
	TakenNs        int64  `json:"taken_unix_ns"`
	GCCycles       uint64 `json:"gc_cycles"`
	GCForced       uint64 `json:"gc_forced"`
	GCPauses       Hist   `json:"gc_pauses_seconds"`
	SchedLatencies Hist   `json:"sched_latencies_seconds"`
	HeapLive       uint64 `json:"heap_live_bytes"`
	HeapGoal       uint64 `json:"heap_goal_bytes"`
	HeapObjects    uint64 `json:"heap_objects_bytes"`
	TotalMapped    uint64 `json:"total_bytes"`
	Goroutines     uint64 `json:"goroutines"`
	GOMAXPROCS     int    `json:"gomaxprocs"`
	GCPercent      int    `json:"gc_percent"`
	MemoryLimit    int64  `json:"memory_limit"`
	GoVersion      string `json:"go_version"`
}

var names = []string{
	"/gc/cycles/total:gc-cycles",
	"/gc/cycles/forced:gc-cycles",
	"/sched/pauses/total/gc:seconds",
	"/sched/latencies:seconds",
	"/gc/heap/live:bytes",
	"/gc/heap/goal:bytes",
	"/gc/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/sched/goroutines:goroutines",
}

func hist(v metrics.Value) Hist {
	if v.Kind() != metrics.KindFloat64Histogram {
		return Hist{}
	}
	h := v.Float64Histogram()
	b := make([]float64, len(h.Buckets))
	for i, x := range h.Buckets {
		switch {
		case math.IsInf(x, 1):
			x = 1e300
		case math.IsInf(x, -1):
			x = -1e300
		}
		b[i] = x
	}
	return Hist{Buckets: b, Counts: append([]uint64(nil), h.Counts...)}
}

func u64(v metrics.Value) uint64 {
	if v.Kind() != metrics.KindUint64 {
		return 0
	}
	return v.Uint64()
}

// Read takes a snapshot. It allocates; do not call it on a request path.
func Read() Snapshot {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	return Snapshot{
		TakenNs:        time.Now().UnixNano(),
		GCCycles:       u64(s[0].Value),
		GCForced:       u64(s[1].Value),
		GCPauses:       hist(s[2].Value),
		SchedLatencies: hist(s[3].Value),
		HeapLive:       u64(s[4].Value),
		HeapGoal:       u64(s[5].Value),
		HeapObjects:    u64(s[6].Value),
		TotalMapped:    u64(s[7].Value),
		Goroutines:     u64(s[8].Value),
		GOMAXPROCS:     runtime.GOMAXPROCS(0),
		GCPercent:      Percent(),
		MemoryLimit:    debug.SetMemoryLimit(-1),
		GoVersion:      runtime.Version(),
	}
}

// PausesBetween returns the stop-the-world pauses (ns) of GCs that ended within
// [fromUnixNs, toUnixNs], newest first, as far back as the runtime remembers (256).
func PausesBetween(fromUnixNs, toUnixNs int64) []int64 {
	var st debug.GCStats
	st.PauseQuantiles = nil
	debug.ReadGCStats(&st)
	var out []int64
	for i, end := range st.PauseEnd {
		e := end.UnixNano()
		if e < fromUnixNs {
			break // newest first: the rest are older
		}
		if e <= toUnixNs && i < len(st.Pause) {
			out = append(out, int64(st.Pause[i]))
		}
	}
	return out
}

// Sub returns h - o bucket by bucket (o taken earlier from the same metric).
func (h Hist) Sub(o Hist) Hist {
	out := Hist{Buckets: h.Buckets, Counts: append([]uint64(nil), h.Counts...)}
	if len(o.Counts) == len(h.Counts) {
		for i := range out.Counts {
			out.Counts[i] -= o.Counts[i]
		}
	}
	return out
}

// HeapReader reads the heap in use (live and not yet swept objects) without stopping the
// world and without allocating. Each goroutine needs its own.
type HeapReader struct {
	s [2]metrics.Sample
}

// InUse returns the bytes of heap objects, live or dead but not yet freed.
func (r *HeapReader) InUse() uint64 {
	r.s[0].Name = "/memory/classes/heap/objects:bytes"
	metrics.Read(r.s[:1])
	return u64(r.s[0].Value)
}

// InUseAndCycles returns InUse and the GC cycles completed so far.
func (r *HeapReader) InUseAndCycles() (heap, cycles uint64) {
	r.s[0].Name = "/memory/classes/heap/objects:bytes"
	r.s[1].Name = "/gc/cycles/total:gc-cycles"
	metrics.Read(r.s[:])
	return u64(r.s[0].Value), u64(r.s[1].Value)
}

// GCEvent is one collection's stop-the-world pause (sum of its pauses) and when it ended.
type GCEvent struct {
	Number    uint32 `json:"number"`
	EndUnixNs int64  `json:"end_unix_ns"`
	PauseNs   int64  `json:"pause_ns"`
}

// EventLog collects GC events as they happen, read from debug.ReadGCStats (which keeps
// only the newest 256), so a caller that reads it often loses none. Not for concurrent use.
type EventLog struct {
	st     debug.GCStats
	seen   int64
	Events []GCEvent
}

// NewEventLog starts a log that ignores the collections done so far.
func NewEventLog() *EventLog {
	l := &EventLog{}
	debug.ReadGCStats(&l.st)
	l.seen = l.st.NumGC
	return l
}

// Update appends the collections finished since the last call.
func (l *EventLog) Update() {
	debug.ReadGCStats(&l.st)
	n := l.st.NumGC
	// PauseEnd is newest first; entry i is collection n-i.
	var fresh []GCEvent
	for i := 0; int64(i) < n-l.seen && i < len(l.st.PauseEnd) && i < len(l.st.Pause); i++ {
		fresh = append(fresh, GCEvent{
			Number: uint32(n - int64(i)), EndUnixNs: l.st.PauseEnd[i].UnixNano(),
			PauseNs: int64(l.st.Pause[i]),
		})
	}
	for i := len(fresh) - 1; i >= 0; i-- {
		l.Events = append(l.Events, fresh[i])
	}
	l.seen = n
}
