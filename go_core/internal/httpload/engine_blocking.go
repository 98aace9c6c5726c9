package httpload

import (
	"errors"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/workload"
)

// driveBlocking runs the worker's one connection: it waits for each intended start as
// the loop does (a sleep, then a spin), writes the request and reads the answer on a
// blocking socket, so the thread sleeps in read(2) until the kernel wakes it.
func (ws *wstate) driveBlocking(p *workload.Plan) {
	ws.stop = p.Stop
	ws.streams(p)
	c := ws.conns[0]
	for !ws.stopped() {
		intended, start := int64(0), int64(0)
		if c.st != nil {
			if intended = c.st.Next(); intended >= p.End {
				return
			}
			p.Due(intended)
			var ok bool
			if start, ok = p.Wait(intended); !ok {
				return
			}
			p.Due(0)
		} else {
			if start = clock.Now(); start >= p.End {
				return
			}
			intended = start
		}
		p.Stall(start)
		class, ok := ws.roundTrip(c, start)
		if !ok {
			return // stopped mid-request: not the server's doing, not recorded
		}
		done := clock.Now()
		queued := intended < c.prevDone
		c.prevDone = done
		if queued {
			c.queued++
		}
		if !p.Rec.Record(intended, start, done, class, queued) {
			return
		}
		if c.fd < 0 {
			// Closed after the answer (Connection: close, an error): connect again now,
			// so the next request finds it open unless it is due at once.
			_ = ws.redial(c)
		}
	}
}

// roundTrip does one request on c (connecting first if it is closed) and returns its
// class; false when the run stopped during it.
func (ws *wstate) roundTrip(c *hconn, start int64) (int, bool) {
	c.target = ws.pick(c)
	c.deadline = clock.SatAdd(start, ws.w.TimeoutNs)
	if c.fd < 0 {
		if err := ws.dial(c, c.deadline); err != nil {
			if errors.Is(err, errStopped) {
				return 0, false
			}
			return ws.fail(c, err), true
		}
	}
	c.p.reset(ws.w.Method == "HEAD")
	err := ws.send(c, c.target)
	if err == nil {
		_, err = ws.readSome(c)
	}
	if errors.Is(err, errStopped) {
		ws.closeConn(c)
		return 0, false
	}
	if err != nil {
		return ws.fail(c, err), true
	}
	if c.p.closeConn {
		ws.closeConn(c)
	}
	return c.target*classesPerTarget + c.p.status, true
}

// redial reconnects a closed connection between requests (bounded by the timeout).
func (ws *wstate) redial(c *hconn) error {
	err := ws.dial(c, clock.SatAdd(clock.Now(), ws.w.TimeoutNs))
	if err != nil && !errors.Is(err, errStopped) && ws.firstErr == "" {
		ws.firstErr = "reconnect: " + err.Error()
	}
	return err
}
