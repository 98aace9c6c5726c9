package loop

import (
	"sort"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/tail"
	"golat/go_core/internal/threadstat"
)

// gcPollNs spaces the GC watcher's polls: a pause is never lost (the runtime keeps 256),
// a mark phase's start is known within one poll.
const gcPollNs = 1_000_000

// maxStalls bounds the stall spans a worker remembers.
const maxStalls = 100_000

// slowState is a worker's part of the outlier record. Only its worker touches it.
type slowState struct {
	keep        *tail.Keeper // nil: keeps nothing
	backlogFrom int64        // intended start of the last request that was not queued
	lastDone    int64        // end of the last request
	stalls      []tail.Span
	// The counters of the thread the worker ran on, as last read, and when: an unlocked
	// worker's goroutine may move to another thread, and a difference counts only when
	// both readings were on the same one.
	usage       threadstat.Usage
	usageAt     int64
	usageOK     bool
	nextRefresh int64
}

// startUsage takes the first reading of the worker thread's counters; call it on the
// worker's goroutine before the loop.
func (s *slowState) startUsage() {
	if s.keep == nil {
		return
	}
	s.usage, s.usageOK = threadstat.Self()
	s.usageAt = clock.Now()
}

// usageEveryNs spaces the readings of the thread's counters between requests.
const usageEveryNs = 1_000_000

// tick renews the reading about once a millisecond, after a request that did not make
// the record (a slow one takes its own reading first), so a slow request's counters
// cover little more than itself.
func (s *slowState) tick(done int64) {
	if !s.usageOK || done < s.nextRefresh {
		return
	}
	if u, ok := threadstat.Self(); ok {
		s.usage, s.usageAt = u, clock.Now()
		s.nextRefresh = s.usageAt + usageEveryNs
	}
}

func (s *slowState) noteStall(from, to int64) {
	if s.keep != nil && len(s.stalls) < maxStalls {
		s.stalls = append(s.stalls, tail.Span{From: from, To: to})
	}
}

// note records a request that made the worker's record.
func (s *slowState) note(intended, start, done, prevEnd int64, queued bool) {
	r := tail.Rec{Intended: intended, Start: start, End: done, Queued: queued,
		BacklogFrom: s.backlogFrom, PrevEnd: prevEnd, Switches: -1, MinorFaults: -1, MajorFaults: -1}
	if s.usageOK {
		if u, ok := threadstat.Self(); ok {
			if u.TID == s.usage.TID {
				r.Switches = u.InvoluntarySwitches - s.usage.InvoluntarySwitches
				r.MinorFaults = u.MinorFaults - s.usage.MinorFaults
				r.MajorFaults = u.MajorFaults - s.usage.MajorFaults
				r.CountersFrom = s.usageAt
			}
			s.usage, s.usageAt = u, clock.Now()
			s.nextRefresh = s.usageAt + usageEveryNs
		}
	}
	s.keep.Add(r)
}

// TailReport is the outlier record in the result document.
type TailReport struct {
	PerWorker   int   `json:"per_worker"`   // the K slowest kept per worker
	ThresholdNs int64 `json:"threshold_ns"` // 0: none
	Dropped     int64 `json:"dropped"`      // above the threshold but past the bound
	GCPollNs    int64 `json:"gc_poll_ns"`
	MarksKnown  bool  `json:"marks_known"` // mark phases could be seen
	GCPauses    int   `json:"gc_pauses"`   // pauses seen in the run
	// Outliers, slowest first.
	Outliers []tail.Outlier `json:"outliers"`
}

// tailOn says whether the run keeps outliers.
func (r *Run) tailOn() bool { return r.cfg.Outliers > 0 || r.cfg.OutlierThresholdNs > 0 }

// tailReport attributes every worker's kept requests once the workers have finished.
func (r *Run) tailReport(w *tail.Watcher, managed []tail.Span) *TailReport {
	if w == nil {
		return nil
	}
	pauses, marks, known := w.Stop()
	f := &tail.Facts{Pauses: pauses, Marks: marks, Managed: managed, Origin: r.measureFrom}
	rep := &TailReport{PerWorker: r.cfg.Outliers, ThresholdNs: r.cfg.OutlierThresholdNs,
		GCPollNs: gcPollNs, MarksKnown: known, GCPauses: len(pauses), Outliers: []tail.Outlier{}}
	for _, wk := range r.workers {
		f.Stalls = append(f.Stalls, wk.slow.stalls)
	}
	for _, wk := range r.workers {
		rep.Outliers = append(rep.Outliers, tail.Attribute(wk.id, wk.slow.keep.Records(), f)...)
		rep.Dropped += wk.slow.keep.Dropped()
	}
	sort.SliceStable(rep.Outliers, func(i, j int) bool {
		a, b := &rep.Outliers[i], &rep.Outliers[j]
		return a.EndNs-a.IntendedNs > b.EndNs-b.IntendedNs
	})
	return rep
}
