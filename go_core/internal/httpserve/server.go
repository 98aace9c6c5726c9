// Package httpserve is golat's loopback HTTP server: a net/http server whose handler runs a
// golat workload, keeps a request-duration histogram per status code and serves its own
// metrics in Prometheus text format. The HTTP workload runs one in-process; `golat serve`
// runs one as a command for wrk, ghz or any other client.
package httpserve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/gcctl"
	"golat/go_core/internal/gcmanage"
	"golat/go_core/internal/hist"
	"golat/go_core/internal/jsondoc"
	"golat/go_core/internal/loop"
	"golat/go_core/internal/workload"
)

// ConfigVersion is the version of the server document this package reads.
const ConfigVersion = 1

// Config is the server document (JSON). Durations are ns, sizes bytes.
type Config struct {
	Version     int    `json:"version"`
	Host        string `json:"host"`
	Port        int    `json:"port"` // 0: chosen by the kernel
	AllowRemote bool   `json:"allow_remote"`
	// Path is where the workload answers ("" : every path but the metrics path); other
	// paths get 404. /status/NNN (NNN in 200..599) runs the workload too and answers NNN,
	// so clients can test their handling of errors.
	Path      string          `json:"path"`
	BodyBytes int64           `json:"body_bytes"` // response body size
	Handler   json.RawMessage `json:"handler"`    // workload spec run per request
	// Workers is how many requests may run the handler workload at once (each slot has
	// its own workload state); more wait for a slot, and the wait is in their duration.
	Workers             int            `json:"workers"`
	Precision           int            `json:"precision"`
	MetricsPath         string         `json:"metrics_path"`
	ReadHeaderTimeoutNs int64          `json:"read_header_timeout_ns"`
	IdleTimeoutNs       int64          `json:"idle_timeout_ns"`
	MaxHeaderBytes      int            `json:"max_header_bytes"`
	GC                  gcctl.Settings `json:"gc"`
	// Managed turns on the managed-GC controller (with GC off and a memory limit in GC):
	// it collects past its threshold at a moment no request is being served.
	Managed *gcmanage.Config `json:"managed_gc,omitempty"`
	// CPUs, when given, are the CPUs every thread of the process runs on while the server
	// runs (the Go runtime's threads cannot be told from the caller's); restored at Close.
	CPUs []int `json:"cpus"`
	// GOMAXPROCS while the server runs (0: leave it); restored at Close.
	GOMAXPROCS int `json:"gomaxprocs"`
	// LockOSThread runs the handler workload on Workers goroutines each locked to its own
	// OS thread: net/http's goroutine hands each request to a free one and waits.
	LockOSThread bool `json:"lock_os_thread"`
	// Stall, when given, makes every request wait while a stall is on: one of DurationNs
	// starts every EveryNs (the first EveryNs after the start), as a stop-the-world pause
	// would.
	Stall *Stall `json:"stall,omitempty"`
}

// Stall is the server's injected pause (see Config.Stall).
type Stall struct {
	EveryNs    int64 `json:"every_ns"`
	DurationNs int64 `json:"duration_ns"`
}

// Defaults: a slow client gets 5 s to send its headers, headers are capped at 64 KiB.
func defaults() Config {
	return Config{
		Version: ConfigVersion, Host: "127.0.0.1", Path: "/", Workers: 1, Precision: 2,
		MetricsPath: "/metrics", ReadHeaderTimeoutNs: 5e9, IdleTimeoutNs: 60e9,
		MaxHeaderBytes: 64 << 10,
	}
}

const (
	maxBody = 64 << 20
	maxNs   = int64(3600e9) // one hour
)

// IsLoopback reports whether host (an IP literal or "localhost") is a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Parse decodes and validates a server document.
func Parse(doc []byte) (Config, error) {
	c := defaults()
	if err := jsondoc.Decode("server config", doc, &c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate checks every field, saying what is allowed.
func (c *Config) Validate() error {
	switch {
	case c.Version != ConfigVersion:
		return fmt.Errorf("server config version %d is not supported (this core reads %d)", c.Version, ConfigVersion)
	case c.Host == "":
		return fmt.Errorf("host is empty; use 127.0.0.1, ::1 or localhost")
	case !c.AllowRemote && !IsLoopback(c.Host):
		return fmt.Errorf("host %q is not a loopback address; golat serves 127.0.0.1, ::1 or localhost unless remote access is allowed explicitly", c.Host)
	case c.Port < 0 || c.Port > 65535:
		return fmt.Errorf("port must be in 0..65535 (0: any free port), got %d", c.Port)
	case c.Path != "" && !strings.HasPrefix(c.Path, "/"):
		return fmt.Errorf("path must start with '/' (or be empty: every path), got %q", c.Path)
	case c.Path == c.MetricsPath:
		return fmt.Errorf("path %q is the metrics path; choose another", c.Path)
	case c.MetricsPath != "" && !strings.HasPrefix(c.MetricsPath, "/"):
		return fmt.Errorf("metrics path must start with '/' (or be empty: no metrics), got %q", c.MetricsPath)
	case c.BodyBytes < 0 || c.BodyBytes > maxBody:
		return fmt.Errorf("body_bytes must be in 0..%d, got %d", maxBody, c.BodyBytes)
	case c.Workers < 1 || c.Workers > 4096:
		return fmt.Errorf("workers must be in 1..4096, got %d", c.Workers)
	case c.Precision != 2 && c.Precision != 3:
		return fmt.Errorf("precision must be 2 or 3 significant digits, got %d", c.Precision)
	case c.ReadHeaderTimeoutNs <= 0 || c.IdleTimeoutNs <= 0:
		return fmt.Errorf("read_header_timeout_ns and idle_timeout_ns must be > 0")
	case c.MaxHeaderBytes < 1024 || c.MaxHeaderBytes > 16<<20:
		return fmt.Errorf("max_header_bytes must be in 1024..%d, got %d", 16<<20, c.MaxHeaderBytes)
	case c.GOMAXPROCS < 0 || c.GOMAXPROCS > 1<<16:
		return fmt.Errorf("gomaxprocs must be 0 (leave it) or 1..65536, got %d", c.GOMAXPROCS)
	case c.Stall != nil && (c.Stall.EveryNs < 1 || c.Stall.EveryNs > maxNs || c.Stall.DurationNs < 1 || c.Stall.DurationNs > maxNs):
		return fmt.Errorf("stall needs every_ns and duration_ns in 1..%d, got %+v", maxNs, *c.Stall)
	case c.Managed != nil && (c.Managed.ThresholdBytes < 0 || c.Managed.SampleNs < 0 || c.Managed.SampleNs > maxNs ||
		c.Managed.MinGapNs < 0 || c.Managed.MinGapNs > maxNs || c.Managed.MaxWaitNs < 0 || c.Managed.MaxWaitNs > maxNs):
		return fmt.Errorf("managed_gc needs threshold_bytes >= 0 and sample_ns, min_gap_ns, max_wait_ns in 0..%d, got %+v", maxNs, *c.Managed)
	case c.Managed != nil && (c.GC.Percent == nil || *c.GC.Percent != -1):
		return fmt.Errorf("managed_gc needs the collector off (gc.gc_percent -1)")
	}
	seen := map[int]bool{}
	for _, cpu := range c.CPUs {
		if cpu < 0 || cpu >= 1024 {
			return fmt.Errorf("cpus: CPU %d out of range 0..1023", cpu)
		}
		if seen[cpu] {
			return fmt.Errorf("cpus: CPU %d given twice", cpu)
		}
		seen[cpu] = true
	}
	return nil
}

// Server is a started server. Its methods are safe from any goroutine.
type Server struct {
	cfg      Config
	ln       net.Listener
	srv      *http.Server
	slots    chan workload.Request
	closers  []func()
	body     []byte
	bodyLen  []string
	served   chan struct{} // closed when Serve returned
	undo     []func()      // process-wide changes (affinity, GOMAXPROCS, GC), last first
	pool     *loop.Pool    // locked handler threads, or nil
	locked   chan *lockedSlot
	managed  *gcmanage.Controller
	closing  chan struct{} // closed when Close starts: stalls end
	stall    stallGate
	startNs  int64
	inFlight atomic.Int64
	connsNew atomic.Int64
	connsNow atomic.Int64
	errLogs  atomic.Int64
	closed   sync.Once

	mu       sync.Mutex
	byStatus map[int]*hist.Histogram // handler entry to body written, ns
}

// Start validates doc, listens and serves in the background.
func Start(doc []byte) (*Server, error) {
	c, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	return StartConfig(c)
}

// StartConfig starts a server from a validated Config.
func StartConfig(c Config) (*Server, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	handler := c.Handler
	if len(handler) == 0 {
		handler = json.RawMessage(`{"kind":"noop"}`)
	}
	wl, err := workload.Decode(handler)
	if err != nil {
		return nil, fmt.Errorf("handler: %v", err)
	}
	s := &Server{
		cfg: c, slots: make(chan workload.Request, c.Workers), body: make([]byte, c.BodyBytes),
		bodyLen: []string{strconv.FormatInt(c.BodyBytes, 10)}, served: make(chan struct{}),
		byStatus: map[int]*hist.Histogram{}, startNs: clock.Now(), closing: make(chan struct{}),
	}
	for i := range s.body {
		s.body[i] = 'x'
	}
	started := false
	defer func() { // on any failure below, undo what was set up so far
		if !started {
			if s.pool != nil {
				s.pool.Close()
			}
			s.closeSlots()
			s.undoAll()
		}
	}()
	if err := s.applyProcess(); err != nil {
		return nil, err
	}
	for i := 0; i < c.Workers; i++ {
		req, closeFn, err := wl.NewWorker(i, c.Workers)
		if closeFn != nil {
			s.closers = append(s.closers, closeFn)
		}
		if err != nil {
			return nil, fmt.Errorf("handler: %v", err)
		}
		s.slots <- req
	}
	if c.LockOSThread {
		if err := s.startPool(); err != nil {
			return nil, err
		}
	}
	s.ln, err = net.Listen("tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)))
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("port %d is in use on %s; choose another port, or 0 for any free one", c.Port, c.Host)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s port %d: %v", c.Host, c.Port, err)
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: time.Duration(c.ReadHeaderTimeoutNs),
		IdleTimeout:       time.Duration(c.IdleTimeoutNs),
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          log.New(countingWriter{&s.errLogs}, "", 0),
		ConnState:         s.connState,
	}
	s.startGC()
	if st := c.Stall; st != nil {
		s.stall.start(clock.Now(), st.EveryNs, st.DurationNs)
	}
	started = true
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(s.ln) // returns http.ErrServerClosed on Shutdown
	}()
	return s, nil
}

// Addr is the address the server listens on, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// countingWriter counts the server's error log lines (TLS-less garbage, panics ...) and
// drops them: bad input must not flood the user's terminal.
type countingWriter struct{ n *atomic.Int64 }

func (w countingWriter) Write(p []byte) (int, error) { w.n.Add(1); return len(p), nil }

func (s *Server) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.connsNew.Add(1)
		s.connsNow.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.connsNow.Add(-1)
	}
}

// ServeHTTP answers the workload path by running the handler workload, the metrics path
// with the metrics, and anything else with 404; every answer but the metrics is timed.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := clock.Now()
	if s.cfg.MetricsPath != "" && r.URL.Path == s.cfg.MetricsPath {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = s.WritePrometheus(w)
		return
	}
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	status := http.StatusOK
	if code, ok := statusRoute(r.URL.Path); ok {
		status = code
	} else if s.cfg.Path != "" && r.URL.Path != s.cfg.Path {
		http.NotFound(w, r)
		s.record(http.StatusNotFound, clock.Now()-start)
		return
	}
	if s.cfg.Stall != nil {
		s.stall.wait(s.closing)
	}
	if s.pool != nil {
		select {
		case ls := <-s.locked:
			s.runLocked(ls)
		case <-r.Context().Done():
			s.record(499, clock.Now()-start)
			return
		}
	} else {
		select {
		case req := <-s.slots:
			s.runSlot(req)
		case <-r.Context().Done(): // the client left while waiting for a slot
			s.record(499, clock.Now()-start)
			return
		}
	}
	h := w.Header()
	h["Content-Length"] = s.bodyLen
	w.WriteHeader(status)
	_, _ = w.Write(s.body)
	s.record(status, clock.Now()-start)
}

// statusRoute reads /status/NNN, NNN in 200..599.
func statusRoute(p string) (int, bool) {
	const prefix = "/status/"
	if len(p) != len(prefix)+3 || !strings.HasPrefix(p, prefix) {
		return 0, false
	}
	code, err := strconv.Atoi(p[len(prefix):])
	if err != nil || code < 200 || code > 599 {
		return 0, false
	}
	return code, true
}

// runSlot runs one request of the handler workload and gives the slot back even if the
// workload panics (net/http recovers the panic; the slot must not be lost with it).
func (s *Server) runSlot(req workload.Request) {
	defer func() { s.slots <- req }()
	req()
}

func (s *Server) record(status int, ns int64) {
	s.mu.Lock()
	h := s.byStatus[status]
	if h == nil {
		h, _ = hist.New(s.cfg.Precision) // validated
		s.byStatus[status] = h
	}
	h.RecordValue(ns)
	s.mu.Unlock()
}

// StatusStats is one status code's request-duration histogram, sparse.
type StatusStats struct {
	Status   int        `json:"status"`
	Requests int64      `json:"requests"`
	SumNs    float64    `json:"sum_ns"`
	Counts   [][2]int64 `json:"counts"`
}

// Stats is a snapshot of the server, as `golat serve` polls it.
type Stats struct {
	Addr              string        `json:"addr"`
	Requests          int64         `json:"requests"`
	Statuses          []StatusStats `json:"statuses"`
	InFlight          int64         `json:"in_flight"`
	ConnectionsTotal  int64         `json:"connections_total"`
	ConnectionsOpen   int64         `json:"connections_open"`
	ServerErrors      int64         `json:"server_errors"` // lines net/http logged
	UptimeNs          int64         `json:"uptime_ns"`
	Precision         int           `json:"precision"`
	CountsLen         int           `json:"counts_len"`
	Workers           int           `json:"workers"`
	Path              string        `json:"path"`
	MetricsPath       string        `json:"metrics_path"`
	ReadHeaderTimeout int64         `json:"read_header_timeout_ns"`
	MaxHeaderBytes    int           `json:"max_header_bytes"`
	// The tuning in force: GOMAXPROCS now, the CPUs the threads were pinned to, whether
	// the handler runs on locked threads, stalls so far, managed collections so far.
	GOMAXPROCS   int   `json:"gomaxprocs"`
	CPUs         []int `json:"cpus"`
	LockOSThread bool  `json:"lock_os_thread"`
	Stalls       int64 `json:"stalls"`
	ManagedGC    bool  `json:"managed_gc"`
	ManagedGCs   int   `json:"managed_gc_collections"`
}

// Stats takes a snapshot (it allocates; not for a request path).
func (s *Server) Stats() Stats {
	st := Stats{
		Addr: s.Addr(), InFlight: s.inFlight.Load(), ConnectionsTotal: s.connsNew.Load(),
		ConnectionsOpen: s.connsNow.Load(), ServerErrors: s.errLogs.Load(),
		UptimeNs: clock.Now() - s.startNs, Precision: s.cfg.Precision,
		CountsLen: hist.CountsLen(s.cfg.Precision), Workers: s.cfg.Workers, Path: s.cfg.Path,
		MetricsPath: s.cfg.MetricsPath, ReadHeaderTimeout: s.cfg.ReadHeaderTimeoutNs,
		MaxHeaderBytes: s.cfg.MaxHeaderBytes, GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUs: s.cfg.CPUs, LockOSThread: s.pool != nil, Stalls: s.stall.count.Load(),
		ManagedGC: s.cfg.Managed != nil, ManagedGCs: s.managedCollections(),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for code, h := range s.byStatus {
		st.Statuses = append(st.Statuses, StatusStats{
			Status: code, Requests: h.TotalCount(), Counts: h.Sparse(),
			SumNs: h.Mean() * float64(h.TotalCount()),
		})
		st.Requests += h.TotalCount()
	}
	sort.Slice(st.Statuses, func(i, j int) bool { return st.Statuses[i].Status < st.Statuses[j].Status })
	return st
}

// Merged is every status's histogram merged (a copy).
func (s *Server) Merged() *hist.Histogram {
	all, _ := hist.New(s.cfg.Precision)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range s.byStatus {
		_ = all.Merge(h)
	}
	return all
}

// Close stops accepting, lets requests in flight finish (up to 2 s, then cuts the
// connections), waits for the serving goroutine, closes the handler workload and puts the
// GC settings back. Closing twice is a no-op.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if e := s.srv.Shutdown(ctx); e != nil {
			err = s.srv.Close()
			if errors.Is(e, context.DeadlineExceeded) {
				err = nil // in-flight requests were cut, as documented
			}
		}
		<-s.served
		// Handlers cut by srv.Close may still hold a slot: wait for every slot to come
		// back (bounded) before the workload's state is torn down under them.
		deadline := time.After(2 * time.Second)
		free := s.slots
		if s.pool != nil {
			// A locked slot holds its workload request; it is back when the slot is.
			for i := 0; i < s.cfg.Workers; i++ {
				select {
				case ls := <-s.locked:
					s.slots <- ls.req
				case <-deadline:
					i = s.cfg.Workers
				}
			}
		}
		for i := 0; i < s.cfg.Workers; i++ {
			select {
			case <-free:
			case <-deadline:
				i = s.cfg.Workers
			}
		}
		if s.pool != nil {
			s.pool.Close()
		}
		s.closeSlots()
		s.undoAll()
	})
	return err
}

func (s *Server) closeSlots() {
	for _, c := range s.closers {
		c()
	}
	s.closers = nil
}

var _ io.Writer = countingWriter{}
