package loop

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golat/go_core/internal/jsondoc"
	"golat/go_core/internal/numa"
	"golat/go_core/internal/osthread"
)

// Threads says how a pool's worker threads are set up. It is part of the run document
// and, alone, the document of a pool.
type Threads struct {
	LockOSThread bool   `json:"lock_os_thread"`
	CPUs         []int  `json:"cpus"`     // one per worker; empty: not pinned
	Policy       string `json:"policy"`   // "", "fifo", "rr"
	Priority     int    `json:"priority"` // 1..99 with fifo/rr
	NUMA         string `json:"numa"`     // "", "local", "bind", "interleave"
	NUMANodes    []int  `json:"numa_nodes"`
	Mlock        bool   `json:"mlock"`
	GOMAXPROCS   int    `json:"gomaxprocs"` // 0: leave it
}

func (t *Threads) validate(workers int) error {
	switch {
	case len(t.CPUs) > 0 && len(t.CPUs) != workers:
		return fmt.Errorf("cpus lists %d CPUs for %d workers; give one CPU per worker", len(t.CPUs), workers)
	case t.Policy != "" && t.Policy != "fifo" && t.Policy != "rr":
		return fmt.Errorf("policy must be \"\", \"fifo\" or \"rr\", got %q", t.Policy)
	case t.Policy != "" && (t.Priority < 1 || t.Priority > 99):
		return fmt.Errorf("%s priority must be 1..99, got %d", t.Policy, t.Priority)
	case t.Policy == "" && t.Priority != 0:
		return fmt.Errorf("priority %d given without a real-time policy", t.Priority)
	case t.NUMA != "" && t.NUMA != "local" && t.NUMA != "bind" && t.NUMA != "interleave":
		return fmt.Errorf("numa must be \"\", \"local\", \"bind\" or \"interleave\", got %q", t.NUMA)
	case (t.NUMA == "bind" || t.NUMA == "interleave") && len(t.NUMANodes) == 0:
		return fmt.Errorf("numa %q needs numa_nodes", t.NUMA)
	case t.GOMAXPROCS < 0 || t.GOMAXPROCS > 1<<16:
		return fmt.Errorf("gomaxprocs must be 0 (leave it) or 1..65536, got %d", t.GOMAXPROCS)
	}
	seen := map[int]bool{}
	for _, c := range t.CPUs {
		if c < 0 {
			return fmt.Errorf("cpus: CPU %d is negative", c)
		}
		if seen[c] {
			return fmt.Errorf("cpus: CPU %d given twice; each pinned worker needs its own CPU", c)
		}
		seen[c] = true
	}
	if !t.LockOSThread && (len(t.CPUs) > 0 || t.Policy != "" || t.NUMA != "") {
		return fmt.Errorf("cpus, policy and numa change the worker's OS thread, so they need lock_os_thread")
	}
	return nil
}

// ThreadInfo is what a pool thread reports about itself after its set-up.
type ThreadInfo struct {
	TID       int    `json:"tid"` // 0 when not locked (the goroutine moves between threads)
	CPU       int    `json:"cpu"` // pinned CPU, -1 when not pinned
	Policy    string `json:"policy"`
	MemPolicy string `json:"mem_policy"`
}

// Pool is a set of worker goroutines, each on its own OS thread when locked, set up once
// (pinned, real-time policy, memory policy) and then serving jobs until Close. A locked
// worker exits still locked, so its thread, whose state golat changed, dies with it and
// never goes back to the runtime's pool. The caller's threads are never touched.
type Pool struct {
	cfg  Threads
	jobs []chan func()
	info []ThreadInfo
	wg   sync.WaitGroup
	undo []func() // process-wide changes (GOMAXPROCS, mlockall), undone by Close
	busy atomic.Bool
	once sync.Once
}

// PoolDoc is a pool's document: its workers and their thread settings.
type PoolDoc struct {
	Version int `json:"version"`
	Workers int `json:"workers"`
	Threads
}

// ParsePool decodes and validates a pool document.
func ParsePool(doc []byte) (PoolDoc, error) {
	var d PoolDoc
	if err := jsondoc.Decode("pool config", doc, &d); err != nil {
		return d, err
	}
	if d.Version != ConfigVersion {
		return d, fmt.Errorf("pool config version %d is not supported (this core reads %d)", d.Version, ConfigVersion)
	}
	return d, d.Threads.validatePool(d.Workers)
}

func (t *Threads) validatePool(workers int) error {
	if workers < 1 || workers > 4096 {
		return fmt.Errorf("workers must be in 1..4096, got %d", workers)
	}
	return t.validate(workers)
}

// NewPool starts n set-up workers. If any worker's set-up fails the pool is closed and
// the first error returned (a *osthread.PermissionError when the OS refused).
func NewPool(cfg Threads, n int) (*Pool, error) {
	if err := cfg.validatePool(n); err != nil {
		return nil, err
	}
	t := &Pool{cfg: cfg, jobs: make([]chan func(), n), info: make([]ThreadInfo, n)}
	// GOMAXPROCS first, before any thread is pinned: changing it later would stop the
	// world while workers hold their Ps.
	if cfg.GOMAXPROCS > 0 {
		prev := runtime.GOMAXPROCS(cfg.GOMAXPROCS)
		t.undo = append(t.undo, func() { runtime.GOMAXPROCS(prev) })
	}
	if cfg.Mlock {
		undo, err := osthread.Mlockall()
		if err != nil {
			t.Close()
			return nil, err
		}
		t.undo = append(t.undo, undo)
	}
	errs := make(chan error, n)
	for i := range t.jobs {
		t.jobs[i] = make(chan func())
		t.wg.Add(1)
		go t.serve(i, errs)
	}
	var first error
	for range t.jobs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		t.Close()
		return nil, first
	}
	return t, nil
}

func (t *Pool) serve(i int, errs chan<- error) {
	if t.cfg.LockOSThread {
		// Never unlocked: the goroutine exits locked and the runtime ends its thread.
		runtime.LockOSThread()
		if osthread.IsMainThread() {
			// The runtime never ends its main thread, so a changed m0 would survive the
			// pool. Hand over to a goroutine locked to another thread (it cannot start on
			// m0, which this goroutine holds until then), and give m0 back unchanged.
			locked := make(chan struct{})
			go func() {
				runtime.LockOSThread()
				close(locked)
				t.serveLocked(i, errs)
			}()
			<-locked
			runtime.UnlockOSThread()
			return
		}
	}
	t.serveLocked(i, errs)
}

func (t *Pool) serveLocked(i int, errs chan<- error) {
	defer t.wg.Done()
	info, err := t.setUp(i)
	t.info[i] = info
	errs <- err
	if err != nil {
		return
	}
	for job := range t.jobs[i] {
		job()
	}
}

// setUp changes the calling (locked) thread as the settings say. No undo is kept: the
// thread dies with its goroutine.
func (t *Pool) setUp(i int) (ThreadInfo, error) {
	c := &t.cfg
	info := ThreadInfo{CPU: -1, Policy: "other", MemPolicy: "default"}
	if !c.LockOSThread {
		return info, nil
	}
	info.TID = osthread.Gettid()
	if len(c.CPUs) > 0 {
		if _, err := osthread.SetAffinity(0, []int{c.CPUs[i]}); err != nil {
			return info, fmt.Errorf("worker %d: pinning to CPU %d: %w", i, c.CPUs[i], err)
		}
		info.CPU = c.CPUs[i]
	}
	if c.NUMA != "" {
		p := numa.Policy{Mode: c.NUMA}
		if c.NUMA != "local" {
			p.Nodes = c.NUMANodes
		}
		if _, err := numa.SetThreadPolicy(p); err != nil {
			return info, fmt.Errorf("worker %d: memory policy: %w", i, err)
		}
		info.MemPolicy = p.String()
	}
	if c.Policy != "" {
		p := osthread.Policy{Name: c.Policy, Priority: c.Priority}
		if _, err := osthread.SetPolicy(0, p); err != nil {
			return info, fmt.Errorf("worker %d: %w", i, err)
		}
		info.Policy = p.String()
	}
	return info, nil
}

// Size is the number of workers.
func (t *Pool) Size() int { return len(t.jobs) }

// Info is what worker i reported after its set-up.
func (t *Pool) Info(i int) ThreadInfo { return t.info[i] }

// Settings are the pool's thread settings.
func (t *Pool) Settings() Threads { return t.cfg }

// Go runs job on worker i's thread; it blocks until the worker takes it.
func (t *Pool) Go(i int, job func()) { t.jobs[i] <- job }

// acquire marks the pool busy for one run; false if a run already holds it.
func (t *Pool) acquire() bool { return t.busy.CompareAndSwap(false, true) }
func (t *Pool) release()      { t.busy.Store(false) }

// ErrBusy is returned when a pool is asked to run while a run already holds it.
var ErrBusy = errors.New("this pool is running another run; a pool runs one at a time")

// Close ends the workers (their threads exit) and undoes process-wide changes. It waits
// for jobs being served to return. Safe to call more than once.
func (t *Pool) Close() {
	t.once.Do(func() {
		for _, ch := range t.jobs {
			if ch != nil {
				close(ch)
			}
		}
		t.wg.Wait()
		for i := len(t.undo) - 1; i >= 0; i-- {
			t.undo[i]()
		}
	})
}
