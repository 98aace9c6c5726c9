// Package httpload is the HTTP workload: a keep-alive HTTP/1.1 client that sends one
// request per golat request to a loopback server — by default an in-process
// httpserve.Server started for the run and closed at its end.
//
// Connections and workers: a golat worker runs one request at a time, so a run has at
// most `workers` requests in flight. The client holds `connections` keep-alive
// connections (default: one per worker) in a pool; a request takes a connection, does one
// round trip on it and gives it back. With connections == workers every worker always
// finds one free; with fewer, workers wait for a connection and the wait is part of their
// latency, as with any client that has N connections. More connections than workers
// could never be busy, so that is refused.
package httpload

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golat/go_core/internal/httpserve"
	"golat/go_core/internal/workload"
)

func init() { workload.Register("http", decode) }

// A request's class is pathIndex*classesPerPath + status; status 0 (ClassError) is a
// request that got no HTTP response (connection refused, reset, timeout, malformed answer).
const (
	ClassError     = 0
	classesPerPath = 1000
	maxPaths       = 64
)

type spec struct {
	Paths       []string        `json:"paths"` // requests cycle through them
	BodyBytes   int64           `json:"body_bytes"`
	Handler     json.RawMessage `json:"handler"`
	Connections int             `json:"connections"` // 0: one per worker
	Target      string          `json:"target"`      // "": in-process server; else loopback host:port
	TimeoutNs   int64           `json:"timeout_ns"`
}

type httpWorkload struct {
	spec

	once     sync.Once
	startErr error
	srv      *httpserve.Server
	addr     string
	pool     chan *conn
	all      []*conn
	reqs     [][]byte // one prebuilt request per path
	last     []int    // class of each worker's last request, written by that worker only
	next     []int    // each worker's next path index
	mu       sync.Mutex
	refs     int
	dials    atomic.Int64
	errs     atomic.Int64
	firstErr atomic.Value // string
	info     map[string]any
}

func decode(raw json.RawMessage) (workload.Workload, error) {
	w := &httpWorkload{spec: spec{TimeoutNs: 10e9}}
	if err := json.Unmarshal(raw, &w.spec); err != nil {
		return nil, fmt.Errorf("http: %v", err)
	}
	if len(w.Paths) == 0 {
		w.Paths = []string{"/"}
	}
	switch {
	case len(w.Paths) > maxPaths:
		return nil, fmt.Errorf("http: at most %d paths, got %d", maxPaths, len(w.Paths))
	case w.Connections < 0 || w.Connections > 4096:
		return nil, fmt.Errorf("http: connections must be in 1..4096 (0: one per worker), got %d", w.Connections)
	case w.TimeoutNs <= 0 || w.TimeoutNs > 3600e9:
		return nil, fmt.Errorf("http: timeout_ns must be in 1..3600e9, got %d", w.TimeoutNs)
	}
	for _, p := range w.Paths {
		if len(p) == 0 || p[0] != '/' {
			return nil, fmt.Errorf("http: a path must start with '/', got %q", p)
		}
		for _, c := range p {
			if c <= ' ' || c == 0x7f {
				return nil, fmt.Errorf("http: a path must not contain spaces or control characters, got %q", p)
			}
		}
	}
	if w.Target != "" {
		host, port, err := net.SplitHostPort(w.Target)
		if err != nil {
			return nil, fmt.Errorf("http: target must be host:port, got %q", w.Target)
		}
		if !httpserve.IsLoopback(host) {
			return nil, fmt.Errorf("http: target %q is not a loopback address; golat only drives servers on this machine (127.0.0.1, ::1, localhost)", w.Target)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return nil, fmt.Errorf("http: target port must be 1..65535, got %q", port)
		}
	}
	if len(w.Handler) == 0 {
		w.Handler = json.RawMessage(`{"kind":"noop"}`)
	}
	if _, err := workload.Decode(w.Handler); err != nil {
		return nil, fmt.Errorf("http handler: %v", err)
	}
	return w, nil
}

// start runs once per run: the server (unless there is a target) and the connections.
func (w *httpWorkload) start(workers int) error {
	n := w.Connections
	if n == 0 {
		n = workers
	}
	if n > workers {
		return fmt.Errorf("http: connections=%d > workers=%d: a worker has one request in flight, so only %d connections could ever be busy; use workers=%d", n, workers, workers, n)
	}
	w.last, w.next = make([]int, workers), make([]int, workers)
	w.addr = w.Target
	if w.Target == "" {
		c := httpserve.Config{
			Version: httpserve.ConfigVersion, Host: "127.0.0.1", Path: "", BodyBytes: w.BodyBytes,
			Handler: w.Handler, Workers: n, Precision: 2, MetricsPath: "/metrics",
			ReadHeaderTimeoutNs: 5e9, IdleTimeoutNs: 60e9, MaxHeaderBytes: 64 << 10,
		}
		for _, p := range w.Paths {
			if p == c.MetricsPath {
				c.MetricsPath = "" // the workload asked for that path: it wins
			}
		}
		srv, err := httpserve.StartConfig(c)
		if err != nil {
			return err
		}
		w.srv, w.addr = srv, srv.Addr()
	}
	for _, p := range w.Paths {
		w.reqs = append(w.reqs, []byte("GET "+p+" HTTP/1.1\r\nHost: "+w.addr+"\r\nUser-Agent: golat\r\n\r\n"))
	}
	w.pool = make(chan *conn, n)
	for i := 0; i < n; i++ {
		k := &conn{addr: w.addr, timeout: time.Duration(w.TimeoutNs)}
		w.all = append(w.all, k)
		w.dials.Add(1)
		if err := k.dial(); err != nil {
			w.shutdown()
			return fmt.Errorf("http: cannot connect to %s: %v", w.addr, err)
		}
		w.pool <- k
	}
	return nil
}

func (w *httpWorkload) NewWorker(id, workers int) (workload.Request, func(), error) {
	w.once.Do(func() { w.startErr = w.start(workers) })
	if w.startErr != nil {
		return nil, nil, w.startErr
	}
	w.mu.Lock()
	w.refs++
	w.mu.Unlock()
	closeFn := func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.refs--; w.refs == 0 {
			w.shutdown()
		}
	}
	req := func() {
		i := w.next[id]
		if w.next[id]++; w.next[id] == len(w.reqs) {
			w.next[id] = 0
		}
		k := <-w.pool
		status := w.roundTrip(k, w.reqs[i])
		w.pool <- k
		w.last[id] = i*classesPerPath + status
	}
	return req, closeFn, nil
}

func (w *httpWorkload) roundTrip(k *conn, req []byte) int {
	if k.c == nil {
		w.dials.Add(1)
		if err := k.dial(); err != nil {
			w.fail(err)
			return ClassError
		}
	}
	status, closeConn, err := k.roundTrip(req)
	if err != nil {
		k.close()
		w.fail(err)
		return ClassError
	}
	if closeConn {
		k.close()
	}
	return status
}

func (w *httpWorkload) fail(err error) {
	if w.errs.Add(1) == 1 {
		w.firstErr.Store(err.Error())
	}
}

// shutdown closes the connections and the server, keeping what the report needs.
func (w *httpWorkload) shutdown() {
	for _, k := range w.all {
		k.close()
	}
	info := map[string]any{
		"server": w.addr, "in_process_server": w.srv != nil, "connections": len(w.all),
		"dials": w.dials.Load(), "errors": w.errs.Load(), "paths": w.Paths,
	}
	if e, ok := w.firstErr.Load().(string); ok {
		info["first_error"] = e
	}
	if w.srv != nil {
		st := w.srv.Stats()
		m := w.srv.Merged()
		info["server_side"] = map[string]any{
			"requests": st.Requests, "p50_ns": m.ValueAtQuantile(50),
			"p99_ns": m.ValueAtQuantile(99), "max_ns": m.Max(), "statuses": statusCounts(st),
			"connections_total": st.ConnectionsTotal,
		}
		_ = w.srv.Close()
		w.srv = nil
	}
	w.info = info
}

func statusCounts(st httpserve.Stats) map[string]int64 {
	out := map[string]int64{}
	for _, s := range st.Statuses {
		out[strconv.Itoa(s.Status)] = s.Requests
	}
	return out
}

// LastClass is the path and status of the worker's last request (status 0: no response).
func (w *httpWorkload) LastClass(worker int) int { return w.last[worker] }

// ClassLabel is "200 GET /path", or "error GET /path" for requests without a response.
func (w *httpWorkload) ClassLabel(class int) string {
	path, status := w.Paths[class/classesPerPath], class%classesPerPath
	if status == ClassError {
		return "error GET " + path
	}
	return strconv.Itoa(status) + " GET " + path
}

// RunReport is what the run's report says about the client and the in-process server.
func (w *httpWorkload) RunReport() any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.info
}
