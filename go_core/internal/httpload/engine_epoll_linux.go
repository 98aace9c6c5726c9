package httpload

import (
	"errors"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/workload"
)

// spinNs: the event loop sleeps in epoll_wait until spinNs before the next intended start
// (or timeout), then polls without sleeping, so a request goes out on time although a
// wake-up from epoll_wait can be tens of µs late (as the loop spins its last stretch).
const spinNs = 100_000

// driveEpoll runs the worker's connections from one event loop: each idle connection
// waits in a heap ordered by its next intended start, sent requests wait for their answers
// in epoll, and their timeouts in a queue ordered by deadline. Threads do not grow with
// connections: the worker's own thread carries them all.
func (ws *wstate) driveEpoll(p *workload.Plan) {
	ws.stop = p.Stop
	ws.streams(p)
	first := ws.conns[0].idx
	now := clock.Now()
	var idle connHeap
	for _, c := range ws.conns {
		c.next = now
		if c.st != nil {
			c.next = c.st.Next()
		}
		if c.next < p.End {
			idle.push(c)
		}
	}
	var timeouts timeoutQueue
	inflight := 0
	finish := func(c *hconn, class int, done int64) bool {
		c.busy = false
		inflight--
		queued := c.intended < c.prevDone
		c.prevDone = done
		if queued {
			c.queued++
		}
		if !p.Rec.Record(c.intended, c.start, done, class, queued) {
			return false
		}
		if c.fd < 0 {
			_ = ws.redial(c)
		}
		c.next = done
		if c.st != nil {
			c.next = c.st.Next()
		}
		if c.next < p.End {
			idle.push(c)
		}
		return true
	}
	for !ws.stopped() {
		now = clock.Now()
		for idle.len() > 0 && idle.top().next <= now {
			c := idle.pop()
			c.intended, c.start = c.next, clock.Now()
			p.Stall(c.start)
			c.target = ws.pick(c)
			c.deadline = clock.SatAdd(c.start, ws.w.TimeoutNs)
			c.busy = true
			inflight++
			if err := ws.sendNow(c); err != nil {
				if errors.Is(err, errStopped) {
					return
				}
				if !finish(c, ws.fail(c, err), clock.Now()) {
					return
				}
				continue
			}
			timeouts.push(c)
		}
		now = clock.Now()
		for timeouts.len() > 0 && timeouts.frontDeadline() <= now {
			c, deadline := timeouts.pop()
			if c.busy && c.deadline == deadline {
				if !finish(c, ws.fail(c, errTimeout), now) {
					return
				}
			}
		}
		if idle.len() == 0 && inflight == 0 {
			return
		}
		wait := int64(sliceNs)
		if idle.len() > 0 {
			wait = min(wait, idle.top().next-now)
		}
		if timeouts.len() > 0 {
			wait = min(wait, timeouts.frontDeadline()-now)
		}
		if inflight == 0 && idle.len() > 0 {
			p.Due(idle.top().next)
		} else {
			p.Due(0)
		}
		timeout := int64(0)
		if wait > spinNs {
			timeout = wait - spinNs
		}
		events, err := ws.ep.wait(timeout)
		if err != nil {
			ws.firstErr = err.Error()
			return
		}
		for _, ev := range events {
			c := ws.conns[int(ev.Fd)-first]
			if !c.busy {
				// Readable with no request in flight: the server closed the idle
				// connection (or sent what nobody asked for). Connect again.
				ws.closeConn(c)
				_ = ws.redial(c)
				continue
			}
			done, err := ws.readSome(c)
			if errors.Is(err, errAgain) {
				continue // the rest of the answer is still on its way
			}
			at := clock.Now()
			class := c.target*classesPerTarget + c.p.status
			if err != nil {
				class = ws.fail(c, err)
			} else if done && c.p.closeConn {
				ws.closeConn(c)
			}
			if (done || err != nil) && !finish(c, class, at) {
				return
			}
		}
	}
}

// sendNow writes c's request, connecting first when c is closed.
func (ws *wstate) sendNow(c *hconn) error {
	if c.fd < 0 {
		if err := ws.dial(c, c.deadline); err != nil {
			return err
		}
	}
	c.p.reset(ws.w.Method == "HEAD")
	return ws.send(c, c.target)
}

// connHeap holds idle connections by their next intended start.
type connHeap struct{ h []*hconn }

func (q *connHeap) len() int      { return len(q.h) }
func (q *connHeap) top() *hconn   { return q.h[0] }
func (q *connHeap) push(c *hconn) { q.h = append(q.h, c); q.up(len(q.h) - 1) }

func (q *connHeap) pop() *hconn {
	c := q.h[0]
	n := len(q.h) - 1
	q.h[0] = q.h[n]
	q.h[n] = nil
	q.h = q.h[:n]
	if n > 0 {
		q.down(0)
	}
	return c
}

func (q *connHeap) up(i int) {
	for i > 0 {
		j := (i - 1) / 2
		if q.h[j].next <= q.h[i].next {
			return
		}
		q.h[i], q.h[j] = q.h[j], q.h[i]
		i = j
	}
}

func (q *connHeap) down(i int) {
	n := len(q.h)
	for {
		l, m := 2*i+1, i
		if l < n && q.h[l].next < q.h[m].next {
			m = l
		}
		if r := l + 1; r < n && q.h[r].next < q.h[m].next {
			m = r
		}
		if m == i {
			return
		}
		q.h[i], q.h[m] = q.h[m], q.h[i]
		i = m
	}
}

// timeoutQueue holds sent requests by deadline. Every request has the same timeout and
// they are sent in time order, so a FIFO is ordered; an entry whose request has since
// completed is skipped when it comes up.
type timeoutQueue struct {
	c        []*hconn
	deadline []int64
	head     int
}

func (q *timeoutQueue) len() int { return len(q.c) - q.head }

func (q *timeoutQueue) frontDeadline() int64 { return q.deadline[q.head] }

func (q *timeoutQueue) push(c *hconn) {
	if q.head > 1024 && q.head*2 > len(q.c) { // reuse the space of popped entries
		n := copy(q.c, q.c[q.head:])
		copy(q.deadline, q.deadline[q.head:])
		q.c, q.deadline, q.head = q.c[:n], q.deadline[:n], 0
	}
	q.c = append(q.c, c)
	q.deadline = append(q.deadline, c.deadline)
}

func (q *timeoutQueue) pop() (*hconn, int64) {
	c, d := q.c[q.head], q.deadline[q.head]
	q.c[q.head] = nil
	q.head++
	return c, d
}
