package httpserve

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/gcctl"
	"golat/go_core/internal/gcmanage"
	"golat/go_core/internal/loop"
	"golat/go_core/internal/osthread"
	"golat/go_core/internal/workload"
)

// The article's tuning steps, applied to a server: its threads on chosen CPUs, GOMAXPROCS,
// the handler on locked threads, the GC off and run by the managed controller, plus an
// injected stall for checking that a client's latency shows it.

// applyProcess pins the process's threads and sets GOMAXPROCS, in that order, before any
// handler thread exists (those then start on the chosen CPUs).
func (s *Server) applyProcess() error {
	if len(s.cfg.CPUs) > 0 {
		undo, err := osthread.PinProcess(s.cfg.CPUs)
		if err != nil {
			return fmt.Errorf("cpus %v: %w", s.cfg.CPUs, err)
		}
		s.undo = append(s.undo, undo)
	}
	if s.cfg.GOMAXPROCS > 0 {
		prev := runtime.GOMAXPROCS(s.cfg.GOMAXPROCS)
		s.undo = append(s.undo, func() { runtime.GOMAXPROCS(prev) })
	}
	return nil
}

// startGC applies the GC settings and starts the managed controller, if asked.
func (s *Server) startGC() {
	s.undo = append(s.undo, gcctl.Apply(s.cfg.GC))
	if s.cfg.Managed == nil {
		return
	}
	// A server knows no schedule: the only idle moment it can see is none in flight.
	idle := func(int64) int64 {
		if s.inFlight.Load() > 0 {
			return 0
		}
		return 1 << 62
	}
	s.managed = gcmanage.Start(*s.cfg.Managed, gcctl.SetMemoryLimit(-1), idle)
	s.undo = append(s.undo, func() { _, _ = s.managed.Stop() })
}

// managedCollections counts the managed controller's collections so far.
func (s *Server) managedCollections() int {
	if s.managed == nil {
		return 0
	}
	return s.managed.Collections()
}

// undoAll reverses the process-wide changes, the last made first.
func (s *Server) undoAll() {
	for i := len(s.undo) - 1; i >= 0; i-- {
		s.undo[i]()
	}
	s.undo = nil
}

// lockedSlot is one locked handler thread with its workload state; run and done are
// made once, so handing a request over allocates nothing.
type lockedSlot struct {
	i        int
	req      workload.Request
	run      func()
	done     chan any // the workload's panic, or nil
	panicked any
}

// startPool starts one locked thread per handler slot (on the process's CPUs).
func (s *Server) startPool() error {
	pool, err := loop.NewPool(loop.Threads{LockOSThread: true}, s.cfg.Workers)
	if err != nil {
		return fmt.Errorf("locked handler threads: %w", err)
	}
	s.pool = pool
	s.locked = make(chan *lockedSlot, s.cfg.Workers)
	for i := 0; i < s.cfg.Workers; i++ {
		ls := &lockedSlot{i: i, req: <-s.slots, done: make(chan any, 1)}
		ls.run = func() {
			defer func() { ls.done <- recover() }()
			ls.req()
		}
		s.locked <- ls
	}
	return nil
}

// runLocked runs one request of the workload on slot ls's locked thread and gives the slot
// back; a panic there is raised again here, where net/http recovers it.
func (s *Server) runLocked(ls *lockedSlot) {
	s.pool.Go(ls.i, ls.run)
	p := <-ls.done
	s.locked <- ls
	if p != nil {
		panic(p)
	}
}

// stallGate is the injected stall: every request that comes while one is on waits until
// its end. The first request past the next start turns it on.
type stallGate struct {
	every, dur int64
	next       atomic.Int64 // clock ns of the next stall's start
	until      atomic.Int64 // clock ns the current stall ends
	count      atomic.Int64
}

func (g *stallGate) start(now, every, dur int64) {
	g.every, g.dur = every, dur
	g.next.Store(now + every)
}

// wait holds the caller while a stall is on; it returns early once closing is closed.
func (g *stallGate) wait(closing <-chan struct{}) {
	now := clock.Now()
	if n := g.next.Load(); now >= n {
		// Past stalls that nobody saw are skipped: the next is in the future.
		next := n + ((now-n)/g.every+1)*g.every
		if g.next.CompareAndSwap(n, next) {
			g.until.Store(now + g.dur)
			g.count.Add(1)
		}
	}
	left := g.until.Load() - now
	if left <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(left))
	defer t.Stop()
	select {
	case <-t.C:
	case <-closing:
	}
}
