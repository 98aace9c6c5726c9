package tail

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	"golat/go_core/internal/clock"
)

// Span is a stretch of clock time that belongs to GC cycle Cycle.
type Span struct {
	Cycle    uint64 `json:"cycle"`
	From, To int64
}

// Watcher follows the collector during a run. Each poll reads two runtime/metrics values
// without stopping the world: completed cycles and the count of GC stop-the-world pauses.
// Each cycle stops the world twice (sweep termination, mark termination), so one pause
// more than twice the cycles means a mark phase is running. When the cycle count moves,
// it reads the runtime's ring of the last 256 pauses (end time, length), so no pause is
// lost unless 256 cycles end within one poll.
//
// Pauses are placed as [end - length, end]: the ring holds each cycle's pauses summed,
// ending at its mark termination. A mark phase runs from the poll before the one that saw
// it (so it is at most one poll too long) to the start of that pause.
type Watcher struct {
	pollNs  int64
	wallOff int64 // wall ns - clock ns
	stop    chan struct{}
	done    chan struct{}

	mu      sync.Mutex
	pauses  []Span
	marks   []Span
	polls   int64
	unknown bool // this Go does not count GC pauses: no mark phases
}

// Names of the metrics read each poll.
const (
	metricCycles = "/gc/cycles/total:gc-cycles"
	metricPauses = "/sched/pauses/total/gc:seconds"
)

// StartWatcher polls every pollNs until Stop.
func StartWatcher(pollNs int64) *Watcher {
	w := &Watcher{pollNs: pollNs, wallOff: time.Now().UnixNano() - clock.Now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	go w.loop()
	return w
}

type gcCounts struct {
	s      [2]metrics.Sample
	cycles uint64
	pauses uint64
	ok     bool
}

func (g *gcCounts) read() {
	g.s[0].Name, g.s[1].Name = metricCycles, metricPauses
	metrics.Read(g.s[:])
	g.ok = g.s[0].Value.Kind() == metrics.KindUint64 && g.s[1].Value.Kind() == metrics.KindFloat64Histogram
	if !g.ok {
		return
	}
	g.cycles = g.s[0].Value.Uint64()
	g.pauses = 0
	for _, c := range g.s[1].Value.Float64Histogram().Counts {
		g.pauses += c
	}
}

// inMark says whether a cycle has started (its first pause counted) but not ended.
func (g *gcCounts) inMark() bool { return g.ok && g.pauses > 2*g.cycles }

func (w *Watcher) loop() {
	defer close(w.done)
	var g gcCounts
	var st debug.GCStats
	debug.ReadGCStats(&st)
	seen := st.NumGC
	g.read()
	w.unknown = !g.ok
	prevPoll := clock.Now()
	// markFrom: the poll before the one that first saw the running mark phase;
	// markSeen: that poll's time, when the phase was certainly running.
	markFrom, markSeen, marking := int64(0), int64(0), false
	if g.inMark() {
		markFrom, markSeen, marking = prevPoll, prevPoll, true
	}
	tk := time.NewTicker(time.Duration(w.pollNs))
	defer tk.Stop()
	for final := false; !final; {
		select {
		case <-w.stop:
			final = true
		case <-tk.C:
		}
		now := clock.Now()
		g.read()
		if g.inMark() && !marking {
			markFrom, markSeen, marking = prevPoll, now, true
		}
		if int64(g.cycles) != seen || final {
			debug.ReadGCStats(&st)
			var fresh []Span
			for i := 0; int64(i) < st.NumGC-seen && i < len(st.PauseEnd) && i < len(st.Pause); i++ {
				end := st.PauseEnd[i].UnixNano() - w.wallOff
				fresh = append(fresh, Span{Cycle: uint64(st.NumGC) - uint64(i), From: end - int64(st.Pause[i]), To: end})
			}
			w.mu.Lock()
			for i := len(fresh) - 1; i >= 0; i-- { // oldest first
				p := fresh[i]
				w.pauses = append(w.pauses, p)
				if !g.ok {
					continue
				}
				switch {
				case !marking && max(prevPoll, markFrom) < p.From: // a whole cycle between two polls
					w.marks = append(w.marks, Span{Cycle: p.Cycle, From: max(prevPoll, markFrom), To: p.From})
				case marking && markFrom < p.From:
					w.marks = append(w.marks, Span{Cycle: p.Cycle, From: markFrom, To: p.From})
				case marking:
					// The pauses, placed end to end before the cycle's end, reach back past
					// the poll before the mark was seen: the first pause was long and the
					// mark short. The mark ran at markSeen; keep what is certain of it.
					w.marks = append(w.marks, Span{Cycle: p.Cycle, From: markFrom, To: max(markSeen, markFrom+1)})
				}
				marking = false
				markFrom, markSeen = p.To, p.To // the next cycle, if already seen, started after this one
			}
			w.mu.Unlock()
			seen = st.NumGC
			if g.inMark() {
				marking = true // a new cycle began since: it started after the last pause
			}
		}
		w.mu.Lock()
		w.polls++
		w.mu.Unlock()
		prevPoll = now
	}
}

// Stop ends the watcher and returns the pauses and mark phases it saw (clock ns), oldest
// first, and whether mark phases could be seen at all.
func (w *Watcher) Stop() (pauses, marks []Span, marksKnown bool) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pauses, w.marks, !w.unknown
}
