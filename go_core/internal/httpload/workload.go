// Package httpload is the HTTP workload: an HTTP/1.1 keep-alive client with wrk2's model
// of concurrency, driving any HTTP server (a loopback one unless remote hosts are
// allowed), or an in-process httpserve.Server started for the run.
//
// Connections and workers: the run's `connections` connections are split among its
// workers (OS-thread loops). Each connection has its own schedule at rate/connections
// (a stream of the run's schedule, constant or Poisson, following a ramp's steps) and one
// request in flight at most. A request whose intended start comes while its connection is
// still busy waits for it, the wait is in its latency (it is counted from the intended
// start), and it is counted as queued, per connection. Three engines carry the
// connections:
//
//   - blocking: one connection per worker; the worker's thread sleeps in read(2) and the
//     kernel wakes it when the answer arrives (the lowest latency for few connections);
//   - epoll: each worker runs an event loop over its connections (non-blocking sockets,
//     epoll), so threads do not grow with connections (wrk2's design);
//   - netpoll: a goroutine per connection on Go's network poller and timers.
//
// auto (the default) is blocking when there is one connection per worker, else epoll.
package httpload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golat/go_core/internal/httpserve"
	"golat/go_core/internal/workload"
)

func init() { workload.Register("http", decode) }

// A request's class is target*classesPerTarget + status. Requests without a response
// have a status below 100: the kind of failure (status 0 classes, by kind).
const (
	classesPerTarget = 1000
	maxTargets       = 64
	maxConnections   = 100_000
	maxBody          = 64 << 20
)

// Failure kinds: the status of a request that got no HTTP response.
const (
	kindOther = iota + 1
	kindRefused
	kindReset
	kindTimeout
	kindClosed
	kindMalformed
	kindTLS
	kindCount
)

var kindNames = [kindCount]string{"", "other", "refused", "reset", "timeout", "closed", "malformed", "tls"}

type spec struct {
	// URLs are absolute URLs of one origin (a later entry may be a path on the first's
	// origin), or paths only: then the requests go to an in-process server.
	URLs     []string  `json:"urls"`
	Weights  []float64 `json:"weights"` // empty: requests cycle through URLs; else drawn
	Method   string    `json:"method"`
	Headers  []string  `json:"headers"`   // "Name: value"
	Body     []byte    `json:"body"`      // the request body (base64 in JSON)
	BodyFile string    `json:"body_file"` // or read from this file when the run starts
	// BodyBytes and Handler configure the in-process server (its answer's size and the
	// workload its handler runs).
	BodyBytes   int64           `json:"body_bytes"`
	Handler     json.RawMessage `json:"handler"`
	Connections int             `json:"connections"` // 0: one per worker
	Engine      string          `json:"engine"`      // auto, blocking, epoll or netpoll
	CAFile      string          `json:"ca_file"`     // trust this CA (PEM) for https
	AllowRemote bool            `json:"allow_remote"`
	TimeoutNs   int64           `json:"timeout_ns"`
}

// target is one URL's request, built once.
type target struct {
	path  string
	req   []byte // request line and headers (and the body, when small)
	body  []byte // the body, when written separately
	label string // "GET /path"
}

type httpWorkload struct {
	spec

	once     sync.Once
	startErr error
	srv      *httpserve.Server
	tlsConf  *tls.Config // nil: plain HTTP
	sa       sockAddr
	addr     string // host:port as dialled
	targets  []target
	cum      []float64 // cumulative weights
	engine   string
	conns    int
	mu       sync.Mutex
	refs     int
	workers  []*wstate
	info     map[string]any
}

var (
	reMethod = regexp.MustCompile(`^[A-Z][A-Z0-9_-]{0,19}$`)
	reName   = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

func decode(raw json.RawMessage) (workload.Workload, error) {
	w := &httpWorkload{spec: spec{Method: "GET", Engine: "auto", TimeoutNs: 10e9}}
	if err := workload.DecodeSpec("http", raw, &w.spec); err != nil {
		return nil, err
	}
	if len(w.URLs) == 0 {
		w.URLs = []string{"/"}
	}
	switch {
	case len(w.URLs) > maxTargets:
		return nil, fmt.Errorf("http: at most %d urls, got %d", maxTargets, len(w.URLs))
	case len(w.Weights) != 0 && len(w.Weights) != len(w.URLs):
		return nil, fmt.Errorf("http: weights must be one per url (%d), got %d", len(w.URLs), len(w.Weights))
	case w.Connections < 0 || w.Connections > maxConnections:
		return nil, fmt.Errorf("http: connections must be in 1..%d (0: one per worker), got %d", maxConnections, w.Connections)
	case w.TimeoutNs <= 0 || w.TimeoutNs > 3600e9:
		return nil, fmt.Errorf("http: timeout_ns must be in 1..3600e9, got %d", w.TimeoutNs)
	case !reMethod.MatchString(w.Method):
		return nil, fmt.Errorf("http: method must be an upper-case token like GET or POST, got %q", w.Method)
	case len(w.Body) > maxBody || w.BodyBytes < 0 || w.BodyBytes > maxBody:
		return nil, fmt.Errorf("http: body and body_bytes are at most %d bytes", maxBody)
	case len(w.Body) > 0 && w.BodyFile != "":
		return nil, fmt.Errorf("http: give body or body_file, not both")
	}
	switch w.Engine {
	case "auto", "blocking", "epoll", "netpoll":
	default:
		return nil, fmt.Errorf("http: engine must be auto, blocking, epoll or netpoll, got %q", w.Engine)
	}
	total := 0.0
	for _, x := range w.Weights {
		if !(x >= 0 && x <= 1e9) {
			return nil, fmt.Errorf("http: weights must be in 0..1e9, got %v", x)
		}
		total += x
		w.cum = append(w.cum, total)
	}
	if len(w.Weights) > 0 && total <= 0 {
		return nil, fmt.Errorf("http: the weights add up to 0")
	}
	for _, h := range w.Headers {
		if err := checkHeader(h); err != nil {
			return nil, err
		}
	}
	if _, err := w.origin(); err != nil {
		return nil, err
	}
	if len(w.Handler) == 0 {
		w.Handler = json.RawMessage(`{"kind":"noop"}`)
	}
	if _, err := workload.Decode(w.Handler); err != nil {
		return nil, fmt.Errorf("http handler: %v", err)
	}
	return w, nil
}

func checkHeader(h string) error {
	name, value, ok := strings.Cut(h, ":")
	if !ok || !reName.MatchString(name) {
		return fmt.Errorf("http: a header must be 'Name: value' with a token name, got %q", h)
	}
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("http: header %q has a control character", h)
		}
	}
	switch strings.ToLower(name) {
	case "content-length", "transfer-encoding":
		return fmt.Errorf("http: header %s is set by golat from the body", name)
	}
	return nil
}

// origin checks the URLs and returns the first one parsed (nil: paths for the in-process
// server).
func (w *httpWorkload) origin() (*url.URL, error) {
	first := w.URLs[0]
	if strings.HasPrefix(first, "/") {
		for _, u := range w.URLs {
			if err := checkPath(u); err != nil {
				return nil, err
			}
		}
		if w.CAFile != "" || w.AllowRemote {
			return nil, fmt.Errorf("http: ca_file and allow_remote are for a url (http://host:port/...), not the in-process server")
		}
		return nil, nil
	}
	o, err := url.Parse(first)
	if err != nil || (o.Scheme != "http" && o.Scheme != "https") || o.Host == "" || o.User != nil || o.Fragment != "" || o.Opaque != "" {
		return nil, fmt.Errorf("http: url must be http://host[:port]/path or https://..., got %q", first)
	}
	if o.Scheme == "http" && w.CAFile != "" {
		return nil, fmt.Errorf("http: ca_file is for https urls, got %q", first)
	}
	if !w.AllowRemote && !httpserve.IsLoopback(o.Hostname()) {
		return nil, fmt.Errorf("http: %q is not a loopback address; golat drives only servers on this machine (127.0.0.1, [::1], localhost) unless allow_remote is set", o.Hostname())
	}
	if p := o.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("http: port must be 1..65535, got %q", p)
		}
	}
	for _, u := range w.URLs[1:] {
		if strings.HasPrefix(u, "/") {
			if err := checkPath(u); err != nil {
				return nil, err
			}
			continue
		}
		x, err := url.Parse(u)
		if err != nil || x.Scheme != o.Scheme || x.Host != o.Host || x.User != nil || x.Fragment != "" {
			return nil, fmt.Errorf("http: every url must have the first's scheme and host:port (%s://%s), got %q", o.Scheme, o.Host, u)
		}
		if err := checkPath(requestPath(x)); err != nil {
			return nil, err
		}
	}
	return o, checkPath(requestPath(o))
}

func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("http: a path must start with '/', got %q", p)
	}
	for i, c := range p {
		if c <= ' ' || c == 0x7f {
			return fmt.Errorf("http: a path must not contain spaces or control characters, got %q", p)
		}
		if c == '%' && (i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2])) {
			return fmt.Errorf("http: a '%%' in a path starts an escape of two hex digits (write '%%' itself as %%25), got %q", p)
		}
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// requestPath is the request target of u: its path (at least "/") and query, as given.
func requestPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		p = "/"
	}
	if u.RawQuery != "" || u.ForceQuery {
		p += "?" + u.RawQuery
	}
	return p
}

func (*httpWorkload) Kind() string { return "http" }

// sockAddr is where connections go.
type sockAddr struct {
	ip   net.IP
	port int
}

// start runs once per run: the body, the address (resolved once), TLS, the in-process
// server, the requests.
func (w *httpWorkload) start(workers int) error {
	w.conns = w.Connections
	if w.conns == 0 {
		w.conns = workers
	}
	w.engine = w.Engine
	if w.engine == "auto" {
		w.engine = "epoll"
		if w.conns == workers {
			w.engine = "blocking"
		}
	}
	switch {
	case w.conns < workers:
		return fmt.Errorf("http: connections=%d < workers=%d: each worker drives connections of its own; use workers <= connections", w.conns, workers)
	case w.engine == "blocking" && w.conns != workers:
		return fmt.Errorf("http: the blocking engine has one connection per worker; connections=%d needs workers=%d (or engine epoll)", w.conns, w.conns)
	}
	body := w.Body
	if w.BodyFile != "" {
		b, err := os.ReadFile(w.BodyFile)
		if err != nil {
			return fmt.Errorf("http: body_file: %v", err)
		}
		if len(b) > maxBody {
			return fmt.Errorf("http: body_file %s is over %d bytes", w.BodyFile, maxBody)
		}
		body = b
	}
	o, _ := w.origin() // checked by decode
	host, hostHeader := "127.0.0.1", ""
	port := 0
	if o == nil {
		c := httpserve.Config{
			Version: httpserve.ConfigVersion, Host: "127.0.0.1", Path: "", BodyBytes: w.BodyBytes,
			Handler: w.Handler, Workers: w.conns, Precision: 2, MetricsPath: "/metrics",
			ReadHeaderTimeoutNs: 5e9, IdleTimeoutNs: 60e9, MaxHeaderBytes: 64 << 10,
		}
		for _, p := range w.URLs {
			if p == c.MetricsPath {
				c.MetricsPath = "" // the workload asked for that path: it wins
			}
		}
		srv, err := httpserve.StartConfig(c)
		if err != nil {
			return err
		}
		w.srv = srv
		_, p, _ := net.SplitHostPort(srv.Addr())
		port, _ = strconv.Atoi(p)
		hostHeader = srv.Addr()
	} else {
		host, hostHeader = o.Hostname(), o.Host
		port = 80
		if o.Scheme == "https" {
			port = 443
		}
		if p := o.Port(); p != "" {
			port, _ = strconv.Atoi(p)
		}
		if o.Scheme == "https" {
			conf, err := tlsConfig(host, w.CAFile)
			if err != nil {
				return err
			}
			w.tlsConf = conf
		}
	}
	ip, err := resolve(host, w.AllowRemote, time.Duration(min(w.TimeoutNs, 10e9)))
	if err != nil {
		w.shutdown()
		return err
	}
	w.sa = sockAddr{ip, port}
	w.addr = net.JoinHostPort(ip.String(), strconv.Itoa(port))
	w.buildTargets(o, hostHeader, body)
	w.workers = make([]*wstate, workers)
	return nil
}

// resolve is the IP to connect to: an IP literal, localhost, or (only with allowRemote)
// a name looked up once, when the run starts.
func resolve(host string, allowRemote bool, timeout time.Duration) (net.IP, error) {
	if strings.EqualFold(host, "localhost") {
		return net.IPv4(127, 0, 0, 1), nil
	}
	if ip := net.ParseIP(host); ip != nil {
		if !allowRemote && !ip.IsLoopback() {
			return nil, fmt.Errorf("http: %s is not a loopback address (allow_remote is not set)", host)
		}
		return ip, nil
	}
	if !allowRemote {
		return nil, fmt.Errorf("http: %q is not a loopback address (allow_remote is not set)", host)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return nil, fmt.Errorf("http: cannot resolve %q: %v", host, err)
	}
	return ips[0], nil
}

func tlsConfig(host, caFile string) (*tls.Config, error) {
	conf := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("http: ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("http: ca_file %s holds no PEM certificate", caFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}

// buildTargets writes each URL's request once.
func (w *httpWorkload) buildTargets(o *url.URL, hostHeader string, body []byte) {
	ownHost, ownAgent := false, false
	for _, h := range w.Headers {
		name, _, _ := strings.Cut(h, ":")
		ownHost = ownHost || strings.EqualFold(name, "Host")
		ownAgent = ownAgent || strings.EqualFold(name, "User-Agent")
	}
	withLength := len(body) > 0 || w.Method == "POST" || w.Method == "PUT" || w.Method == "PATCH"
	for _, u := range w.URLs {
		p := u
		if !strings.HasPrefix(u, "/") {
			x, _ := url.Parse(u)
			p = requestPath(x)
		}
		var b strings.Builder
		b.WriteString(w.Method + " " + p + " HTTP/1.1\r\n")
		if !ownHost {
			b.WriteString("Host: " + hostHeader + "\r\n")
		}
		if !ownAgent {
			b.WriteString("User-Agent: golat\r\n")
		}
		for _, h := range w.Headers {
			name, value, _ := strings.Cut(h, ":")
			b.WriteString(name + ": " + strings.TrimSpace(value) + "\r\n")
		}
		if withLength {
			b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n")
		}
		b.WriteString("\r\n")
		t := target{path: p, req: []byte(b.String()), label: w.Method + " " + p}
		if len(body) <= 64<<10 {
			t.req = append(t.req, body...)
		} else {
			t.body = body
		}
		w.targets = append(w.targets, t)
	}
}

// NewWorker sets up the worker's share of the connections (dialled, and for https
// handshaken, here: before the run's clock starts).
func (w *httpWorkload) NewWorker(id, workers int) (workload.Request, func(), error) {
	w.once.Do(func() { w.startErr = w.start(workers) })
	if w.startErr != nil {
		return nil, func() {}, w.startErr
	}
	w.mu.Lock()
	w.refs++
	w.mu.Unlock()
	ws := &wstate{w: w, id: id}
	w.workers[id] = ws
	closeFn := func() {
		ws.close()
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.refs--; w.refs == 0 {
			w.shutdown()
		}
	}
	from, to := id*w.conns/workers, (id+1)*w.conns/workers
	if err := ws.open(from, to); err != nil {
		return nil, closeFn, err
	}
	return nil, closeFn, nil
}

// Drive runs the worker's connections for the run (workload.Driver).
func (w *httpWorkload) Drive(id int, p *workload.Plan) {
	ws := w.workers[id]
	switch w.engine {
	case "blocking":
		ws.driveBlocking(p)
	case "epoll":
		ws.driveEpoll(p)
	default:
		ws.driveNetpoll(p)
	}
}

// Generator streams (+ the connection's index): weighted URL draws and Poisson arrivals.
const (
	weightStream = 1 << 40
	streamBase   = 1 << 20
)

// pick is the target of a connection's next request: in turn, or drawn by weight.
func (ws *wstate) pick(c *hconn) int {
	w := ws.w
	if len(w.cum) == 0 {
		i := c.cursor
		if c.cursor++; c.cursor == len(w.targets) {
			c.cursor = 0
		}
		return i
	}
	x := c.rng.Float64() * w.cum[len(w.cum)-1]
	for i, c := range w.cum {
		if x < c {
			return i
		}
	}
	return len(w.cum) - 1
}

// shutdown closes the server and keeps what the report needs (every worker is closed).
func (w *httpWorkload) shutdown() {
	info := map[string]any{
		"server": w.addr, "in_process_server": w.srv != nil, "connections": w.conns,
		"engine": w.engine, "urls": w.URLs, "tls": w.tlsConf != nil,
	}
	var dials, errs, queued, maxQueued, withQueued int64
	kinds := map[string]int64{}
	perConn := []int64{}
	first := ""
	for _, ws := range w.workers {
		if ws == nil {
			continue
		}
		dials += ws.dials
		for k, n := range ws.errs {
			if n > 0 {
				kinds[kindNames[k]] += n
				errs += n
			}
		}
		if first == "" {
			first = ws.firstErr
		}
		for _, c := range ws.conns {
			dials += c.dials
			perConn = append(perConn, c.queued)
			queued += c.queued
			maxQueued = max(maxQueued, c.queued)
			if c.queued > 0 {
				withQueued++
			}
		}
	}
	info["dials"], info["errors"], info["errors_by_kind"] = dials, errs, kinds
	if first != "" {
		info["first_error"] = first
	}
	info["queued"] = map[string]any{
		"requests": queued, "connections_with_queued": withQueued,
		"max_per_connection": maxQueued, "per_connection": perConn,
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

// LastClass is never asked: the engines pass each request's class to the loop.
func (w *httpWorkload) LastClass(int) int { return -1 }

// ClassLabel is "200 GET /path", or "error KIND GET /path" for a request without a
// response (KIND: refused, reset, timeout, closed, malformed, tls, other).
func (w *httpWorkload) ClassLabel(class int) string {
	t, status := class/classesPerTarget, class%classesPerTarget
	label := "?"
	if t < len(w.targets) {
		label = w.targets[t].label
	}
	if status < 100 {
		name := "other"
		if status > 0 && status < kindCount {
			name = kindNames[status]
		}
		return "error " + name + " " + label
	}
	return strconv.Itoa(status) + " " + label
}

// RunReport is what the run's report says about the client and the in-process server.
func (w *httpWorkload) RunReport() any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.info
}
