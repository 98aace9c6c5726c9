package httpload

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/workload"
)

// completion is a request a connection goroutine finished, for the worker to record.
type completion struct {
	c                     *hconn
	class, target         int
	err                   error
	intended, start, done int64
	queued                bool
}

// driveNetpoll runs a goroutine per connection on Go's network poller: each waits for its
// intended starts on a Go timer, then writes and reads through net.Conn (the goroutine
// parks until the poller sees the answer). Completions come back to the worker's
// goroutine, which records them. This is the idiomatic Go client, kept to measure against
// the event loop (docs/http-and-peers.md): its timers wake late and every answer waits
// for the scheduler, both in its latency.
func (ws *wstate) driveNetpoll(p *workload.Plan) {
	ws.stop = p.Stop
	ws.streams(p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := make(chan completion, len(ws.conns))
	var wg sync.WaitGroup
	for _, c := range ws.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws.runConn(ctx, c, p, ch)
		}()
	}
	go func() { wg.Wait(); close(ch) }()
	tick := time.NewTicker(sliceNs)
	defer tick.Stop()
	recording := true
	for {
		select {
		case comp, ok := <-ch:
			if !ok {
				return
			}
			if !recording {
				continue
			}
			class := comp.class
			if comp.err != nil {
				class = ws.count(comp.target, comp.err)
			}
			if comp.queued {
				comp.c.queued++
			}
			if !p.Rec.Record(comp.intended, comp.start, comp.done, class, comp.queued) {
				recording = false
				cancel() // the quota is met: end the goroutines, drain what they send
			}
		case <-tick.C:
			if ws.stopped() {
				recording = false
				cancel()
			}
		}
	}
}

// runConn is one connection's goroutine.
func (ws *wstate) runConn(ctx context.Context, c *hconn, p *workload.Plan, ch chan<- completion) {
	w := ws.w
	buf := make([]byte, 4<<10)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	defer c.closeNet()
	addr := net.JoinHostPort(w.sa.ip.String(), strconv.Itoa(w.sa.port))
	c.next = clock.Now()
	if c.st != nil {
		c.next = c.st.Next()
	}
	for c.next < p.End {
		if d := c.next - clock.Now(); d > 0 {
			timer.Reset(time.Duration(d))
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		intended, start := c.next, clock.Now()
		c.target = ws.pick(c)
		err := ws.netRoundTrip(ctx, c, addr, buf, start)
		if ctx.Err() != nil {
			return // stopped: not recorded
		}
		done := clock.Now()
		comp := completion{c: c, target: c.target, intended: intended, start: start, done: done,
			queued: intended < c.prevDone, class: c.target*classesPerTarget + c.p.status, err: err}
		c.prevDone = done
		if err != nil || c.p.closeConn {
			c.closeNet()
		}
		select {
		case ch <- comp:
		case <-ctx.Done():
			return
		}
		c.next = done
		if c.st != nil {
			c.next = c.st.Next()
		}
	}
}

// netRoundTrip does one request through net.Conn, connecting first when needed.
func (ws *wstate) netRoundTrip(ctx context.Context, c *hconn, addr string, buf []byte, start int64) error {
	w := ws.w
	deadline := time.Now().Add(time.Duration(w.TimeoutNs))
	if c.nc == nil {
		c.dials++
		dctx, cancel := context.WithDeadline(ctx, deadline)
		var d net.Dialer
		nc, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err != nil {
			return err
		}
		if w.tlsConf != nil {
			tc := tls.Client(nc, w.tlsConf)
			hctx, cancel := context.WithDeadline(ctx, deadline)
			err = tc.HandshakeContext(hctx)
			cancel()
			if err != nil {
				nc.Close()
				return &tlsError{err}
			}
			nc = tc
		}
		c.nc = nc
		c.unhook = context.AfterFunc(ctx, func() { nc.Close() }) // a stop ends a read
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return err
	}
	c.p.reset(w.Method == "HEAD")
	tg := &w.targets[c.target]
	if _, err := c.nc.Write(tg.req); err != nil {
		return netErr(err)
	}
	if tg.body != nil {
		if _, err := c.nc.Write(tg.body); err != nil {
			return netErr(err)
		}
	}
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			used, perr := c.p.feed(buf[:n])
			if perr != nil {
				return perr
			}
			if c.p.done() {
				if used < n {
					return errMalformed
				}
				return nil
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) || isNetTimeout(err) {
				return netErr(err)
			}
			if err == io.EOF {
				return c.p.eof()
			}
			return err
		}
	}
}

// netErr maps a net.Conn deadline to golat's timeout.
func netErr(err error) error {
	if isNetTimeout(err) {
		return errTimeout
	}
	return err
}

// closeNet closes the netpoll engine's connection.
func (c *hconn) closeNet() {
	if c.nc != nil {
		c.unhook()
		c.nc.Close()
		c.nc = nil
	}
}
