package httpserve

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	"golat/go_core/internal/gcctl"
)

// LeSeconds are the `le` bucket bounds of every histogram on the metrics page, in seconds:
// 1 µs to 10 s, roughly 1-2.5-5 per decade, the range between a noop request and a
// pathological GC pause.
var LeSeconds = []float64{
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// WritePrometheus writes the server's and the Go runtime's metrics in the Prometheus text
// exposition format (version 0.0.4): the article's observables — goroutine count, GC
// stop-the-world pause distribution, scheduling latency, request-duration histogram.
func (s *Server) WritePrometheus(out io.Writer) error {
	w := bufio.NewWriter(out)
	snap := gcctl.Read()
	st := s.Stats()

	gauge(w, "go_goroutines", "Number of goroutines that currently exist.", float64(snap.Goroutines))
	counter(w, "go_gc_cycles_total", "Completed GC cycles.", float64(snap.GCCycles))
	counter(w, "go_gc_cycles_forced_total", "GC cycles forced by the application (runtime.GC).", float64(snap.GCForced))
	runtimeHist(w, "go_gc_pauses_seconds", "Stop-the-world pauses of the garbage collector (runtime/metrics /sched/pauses/total/gc:seconds).", snap.GCPauses)
	runtimeHist(w, "go_sched_latencies_seconds", "Time goroutines spent runnable before running (runtime/metrics /sched/latencies:seconds).", snap.SchedLatencies)
	gauge(w, "go_gc_heap_live_bytes", "Heap memory occupied by live objects after the last GC.", float64(snap.HeapLive))
	gauge(w, "go_gc_heap_goal_bytes", "Heap size target of the end of the current GC cycle.", float64(snap.HeapGoal))
	gauge(w, "go_gc_gogc_percent", "GC percent (GOGC); -1 is off.", float64(snap.GCPercent))
	gauge(w, "go_gc_gomemlimit_bytes", "Soft memory limit (GOMEMLIMIT).", float64(snap.MemoryLimit))
	gauge(w, "go_sched_gomaxprocs_threads", "GOMAXPROCS.", float64(snap.GOMAXPROCS))

	name := "golat_http_requests_total"
	fmt.Fprintf(w, "# HELP %s Requests answered, by status code (499: client left while queued).\n# TYPE %s counter\n", name, name)
	for _, ss := range st.Statuses {
		fmt.Fprintf(w, "%s{code=\"%d\"} %d\n", name, ss.Status, ss.Requests)
	}
	name = "golat_http_request_duration_seconds"
	fmt.Fprintf(w, "# HELP %s Time from the handler's entry to the response body written, by status code.\n# TYPE %s histogram\n", name, name)
	s.mu.Lock()
	codes := make([]int, 0, len(s.byStatus))
	for code := range s.byStatus {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	for _, code := range codes {
		h := s.byStatus[code]
		n := h.TotalCount()
		for _, le := range LeSeconds {
			fmt.Fprintf(w, "%s_bucket{code=\"%d\",le=\"%s\"} %d\n", name, code, fmtFloat(le), h.CountAtOrBelow(int64(le*1e9)))
		}
		fmt.Fprintf(w, "%s_bucket{code=\"%d\",le=\"+Inf\"} %d\n", name, code, n)
		fmt.Fprintf(w, "%s_sum{code=\"%d\"} %s\n", name, code, fmtFloat(h.Mean()*float64(n)/1e9))
		fmt.Fprintf(w, "%s_count{code=\"%d\"} %d\n", name, code, n)
	}
	s.mu.Unlock()
	gauge(w, "golat_http_requests_in_flight", "Requests being served now.", float64(st.InFlight))
	counter(w, "golat_http_connections_total", "Connections accepted.", float64(st.ConnectionsTotal))
	gauge(w, "golat_http_connections_open", "Connections open now.", float64(st.ConnectionsOpen))
	counter(w, "golat_http_server_errors_total", "Errors the HTTP server logged (bad input, handler panics).", float64(st.ServerErrors))
	gauge(w, "golat_http_handler_workers", "Requests that may run the handler workload at once.", float64(st.Workers))
	return w.Flush()
}

func gauge(w io.Writer, name, help string, v float64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %s\n", name, help, name, name, fmtFloat(v))
}

func counter(w io.Writer, name, help string, v float64) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %s\n", name, help, name, name, fmtFloat(v))
}

// runtimeHist re-buckets a runtime/metrics histogram onto LeSeconds. A runtime bucket
// counts toward `le` when its upper edge is <= le (never over-counting); the sum uses each
// bucket's midpoint (its lower edge for the open top bucket), so it is an estimate.
func runtimeHist(w io.Writer, name, help string, h gcctl.Hist) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var total uint64
	var sum float64
	for i, c := range h.Counts {
		total += c
		if c == 0 || i+1 >= len(h.Buckets) {
			continue
		}
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		mid := lo
		if hi < 1e299 && lo > -1e299 {
			mid = (lo + hi) / 2
		} else if lo <= -1e299 {
			mid = 0
		}
		sum += float64(c) * mid
	}
	for _, le := range LeSeconds {
		var n uint64
		for i, c := range h.Counts {
			if i+1 < len(h.Buckets) && h.Buckets[i+1] <= le {
				n += c
			}
		}
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, fmtFloat(le), n)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, total)
	fmt.Fprintf(w, "%s_sum %s\n%s_count %d\n", name, fmtFloat(sum), name, total)
}

func fmtFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
