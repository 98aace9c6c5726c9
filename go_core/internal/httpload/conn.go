package httpload

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"syscall"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/sched"
	"golat/go_core/internal/workload"
)

// wstate is one worker's share of the client: its connections and counters. Only the
// worker's goroutine touches it while the run goes on (the netpoll engine's connection
// goroutines only touch their own hconn).
type wstate struct {
	w        *httpWorkload
	id       int
	conns    []*hconn
	dials    int64
	errs     [kindCount]int64
	firstErr string
	buf      []byte // read buffer, shared by the worker's connections
	ep       *epoll
	stop     *atomic.Bool // the run's, from Drive on
}

// hconn is one keep-alive connection with its own schedule.
type hconn struct {
	idx      int // over the run's connections
	fd       int // -1: not connected
	raw      fdConn
	tc       *tls.Conn // https only
	nc       net.Conn  // netpoll engine only
	unhook   func() bool
	rng      *rand.Rand // weighted URL draws
	p        parser
	st       *sched.Stream // its arrivals (nil: closed loop)
	next     int64         // intended start of its next request
	prevDone int64
	cursor   int // next target, when requests cycle
	queued   int64
	dials    int64 // by the netpoll engine's goroutine (the others count in wstate)
	// the request in flight
	busy     bool
	target   int
	intended int64
	start    int64
	deadline int64
}

// stopped says whether the run has stopped (never before Drive).
func (ws *wstate) stopped() bool { return ws.stop != nil && ws.stop.Load() }

// open dials the worker's connections [from, to) (before the run's clock starts).
func (ws *wstate) open(from, to int) error {
	nonblock := ws.w.engine == "epoll"
	if nonblock {
		ep, err := newEpoll(to - from)
		if err != nil {
			return err
		}
		ws.ep = ep
	}
	ws.buf = make([]byte, 64<<10)
	for i := from; i < to; i++ {
		c := &hconn{idx: i, fd: -1, cursor: i % len(ws.w.targets)}
		ws.conns = append(ws.conns, c)
		if ws.w.engine == "netpoll" {
			continue // dialled by its goroutine
		}
		if err := ws.dial(c, clock.Now()+ws.w.TimeoutNs); err != nil {
			return fmt.Errorf("http: cannot connect to %s: %v", ws.w.addr, err)
		}
	}
	return nil
}

// dial (re)connects c, handshaking for https, until deadline at most.
func (ws *wstate) dial(c *hconn, deadline int64) error {
	ws.closeConn(c)
	ws.dials++
	sa, family := sockaddr(ws.w.sa.ip, ws.w.sa.port)
	fd, err := dialFd(sa, family, deadline, ws.stopped)
	if err != nil {
		return err
	}
	c.fd = fd
	c.raw = fdConn{fd: fd, deadline: deadline, stopped: ws.stopped, nonblock: true, pollRead: true}
	if ws.w.tlsConf != nil {
		c.tc = tls.Client(&c.raw, ws.w.tlsConf)
		if err := c.tc.Handshake(); err != nil {
			ws.closeConn(c)
			return &tlsError{err}
		}
	}
	c.raw.pollRead = false
	switch ws.w.engine {
	case "blocking":
		if err := setBlocking(fd); err != nil {
			ws.closeConn(c)
			return err
		}
		c.raw.nonblock = false
	case "epoll":
		if err := ws.ep.add(fd, int32(c.idx)); err != nil {
			ws.closeConn(c)
			return err
		}
	}
	return nil
}

func (ws *wstate) closeConn(c *hconn) {
	if c.fd >= 0 {
		if ws.ep != nil {
			ws.ep.del(c.fd)
		}
		syscall.Close(c.fd)
		c.fd, c.tc = -1, nil
	}
	c.closeNet()
	c.busy = false
}

func (ws *wstate) close() {
	for _, c := range ws.conns {
		ws.closeConn(c)
	}
	if ws.ep != nil {
		ws.ep.close()
		ws.ep = nil
	}
}

// streams gives each connection its arrivals (nil: closed loop) and its generator of
// weighted URL draws.
func (ws *wstate) streams(p *workload.Plan) {
	for _, c := range ws.conns {
		if len(ws.w.cum) > 0 {
			c.rng = rand.New(rand.NewPCG(p.Seed, weightStream+uint64(c.idx)))
		}
		if p.Sched == nil {
			continue
		}
		var rng *rand.Rand
		if p.Poisson {
			rng = rand.New(rand.NewPCG(p.Seed, streamBase+uint64(c.idx)))
		}
		c.st = p.Sched.Stream(c.idx, ws.w.conns, rng)
	}
}

// conn is the connection's reader and writer: TLS over the socket, or the socket.
func (c *hconn) conn() io.ReadWriter {
	if c.tc != nil {
		return c.tc
	}
	if c.nc != nil {
		return c.nc
	}
	return &c.raw
}

// send writes the request for target t (the connection is connected).
func (ws *wstate) send(c *hconn, t int) error {
	tg := &ws.w.targets[t]
	c.raw.deadline = c.deadline
	wr := c.conn()
	if _, err := wr.Write(tg.req); err != nil {
		return err
	}
	if tg.body != nil {
		if _, err := wr.Write(tg.body); err != nil {
			return err
		}
	}
	return nil
}

// fail counts a failed request and closes its connection; it returns the request's class.
func (ws *wstate) fail(c *hconn, err error) int {
	ws.closeConn(c)
	return ws.count(c.target, err)
}

// count counts a failed request to target t by kind and returns its class.
func (ws *wstate) count(t int, err error) int {
	k := errKind(err)
	if ws.errs[k]++; ws.firstErr == "" {
		ws.firstErr = err.Error()
	}
	return t*classesPerTarget + k
}

// tlsError marks a failed TLS handshake.
type tlsError struct{ err error }

func (e *tlsError) Error() string { return "tls: " + strings.TrimPrefix(e.err.Error(), "tls: ") }
func (e *tlsError) Unwrap() error { return e.err }

// errKind sorts a failure into refused, reset, timeout, closed, malformed, tls or other.
func errKind(err error) int {
	var te *tlsError
	var ae tls.AlertError
	var re tls.RecordHeaderError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return kindRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return kindReset
	case errors.Is(err, errTimeout), errors.Is(err, syscall.ETIMEDOUT), isNetTimeout(err):
		return kindTimeout
	case errors.Is(err, errClosed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return kindClosed
	case errors.Is(err, errMalformed), errors.Is(err, errHeaderLarge):
		return kindMalformed
	case errors.As(err, &te), errors.As(err, &ae), errors.As(err, &re), strings.HasPrefix(err.Error(), "tls:"):
		return kindTLS
	}
	return kindOther
}

func isNetTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && !errors.Is(err, errAgain)
}

// readSome reads what has arrived on c into the parser: done when the response is
// whole. With wait (a blocking socket, a net.Conn), it waits for data; else errAgain
// means nothing more for now.
func (ws *wstate) readSome(c *hconn) (bool, error) {
	r := c.conn()
	for {
		n, err := r.Read(ws.buf)
		if n > 0 {
			used, perr := c.p.feed(ws.buf[:n])
			if perr != nil {
				return false, perr
			}
			if c.p.done() {
				if used < n { // one request is in flight: nothing may follow its answer
					return false, fmt.Errorf("%w: %d bytes after the response", errMalformed, n-used)
				}
				return true, nil
			}
		}
		if err == io.EOF {
			if err = c.p.eof(); err != nil {
				return false, err
			}
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}
