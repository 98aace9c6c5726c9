package tail

import "sort"

// Outlier is one slow request in the result document with the facts that overlap it.
// Times are ns from the measured window's start; overlaps are ns.
//
// The request's own span is [intended, end] when it started on time or late on an idle
// worker, [start, end] when it queued behind earlier requests; its backlog is
// [behind, start] (behind: the intended start of the request that began the backlog).
type Outlier struct {
	Worker     int   `json:"worker"`
	IntendedNs int64 `json:"intended_ns"`
	StartNs    int64 `json:"start_ns"`
	EndNs      int64 `json:"end_ns"`
	QueuedNs   int64 `json:"queued_ns"`   // start - intended when queued, else 0
	BehindNs   int64 `json:"behind_ns"`   // -1 when not queued
	PrevEndNs  int64 `json:"prev_end_ns"` // end of the worker's previous request; -1: none
	// Overlaps with the request's own span.
	StallNs     int64 `json:"stall_ns"`
	ManagedGCNs int64 `json:"managed_gc_ns"`
	GCPauseNs   int64 `json:"gc_pause_ns"`
	GCMarkNs    int64 `json:"gc_mark_ns"`
	// Overlaps with the backlog (queued requests only).
	BehindStallNs     int64 `json:"behind_stall_ns"`
	BehindManagedGCNs int64 `json:"behind_managed_gc_ns"`
	BehindGCPauseNs   int64 `json:"behind_gc_pause_ns"`
	BehindGCMarkNs    int64 `json:"behind_gc_mark_ns"`
	// The worker thread's counters over [CountersFromNs, end] (-1: unknown).
	Switches       int64 `json:"switches"`
	MinorFaults    int64 `json:"minor_faults"`
	MajorFaults    int64 `json:"major_faults"`
	CountersFromNs int64 `json:"counters_from_ns"`
}

// Facts is what happened around the requests, from the watcher, the managed-GC
// controller and the stall injection. Times are clock ns.
type Facts struct {
	Pauses  []Span
	Marks   []Span
	Managed []Span   // collections the controller ran (their cycles are not the runtime's)
	Stalls  [][]Span // per worker
	Origin  int64    // the measured window's start
}

// overlap sums the overlap of spans (sorted by From, not overlapping each other much)
// with [from, to], leaving out spans of the cycles in skip.
func overlap(spans []Span, from, to int64, skip map[uint64]bool) int64 {
	if to <= from {
		return 0
	}
	// first span that may end after from: spans are sorted by From and short, so search
	// by From and step back over the few that started earlier.
	i := sort.Search(len(spans), func(i int) bool { return spans[i].From >= from })
	for i > 0 && spans[i-1].To > from {
		i--
	}
	var sum int64
	for ; i < len(spans) && spans[i].From < to; i++ {
		s := spans[i]
		if skip[s.Cycle] {
			continue
		}
		if o := min(s.To, to) - max(s.From, from); o > 0 {
			sum += o
		}
	}
	return sum
}

// Attribute turns a worker's records into outliers, slowest first.
func Attribute(worker int, recs []Rec, f *Facts) []Outlier {
	skip := map[uint64]bool{}
	for _, m := range f.Managed {
		skip[m.Cycle] = true
	}
	var stalls []Span
	if worker < len(f.Stalls) {
		stalls = f.Stalls[worker]
	}
	out := make([]Outlier, 0, len(recs))
	for _, r := range recs {
		o := Outlier{
			Worker: worker, IntendedNs: r.Intended - f.Origin, StartNs: r.Start - f.Origin,
			EndNs: r.End - f.Origin, BehindNs: -1, Switches: r.Switches,
			MinorFaults: r.MinorFaults, MajorFaults: r.MajorFaults, CountersFromNs: -1,
			PrevEndNs: -1,
		}
		if r.PrevEnd > 0 {
			o.PrevEndNs = r.PrevEnd - f.Origin
		}
		if r.Switches >= 0 {
			o.CountersFromNs = r.CountersFrom - f.Origin
		}
		own := r.Intended
		if r.Queued {
			own = r.Start
			o.QueuedNs = r.Start - r.Intended
			o.BehindNs = r.BacklogFrom - f.Origin
			b0, b1 := r.BacklogFrom, r.Start
			o.BehindStallNs = overlap(stalls, b0, b1, nil)
			o.BehindManagedGCNs = overlap(f.Managed, b0, b1, nil)
			o.BehindGCPauseNs = overlap(f.Pauses, b0, b1, skip)
			o.BehindGCMarkNs = overlap(f.Marks, b0, b1, skip)
		}
		o.StallNs = overlap(stalls, own, r.End, nil)
		o.ManagedGCNs = overlap(f.Managed, own, r.End, nil)
		o.GCPauseNs = overlap(f.Pauses, own, r.End, skip)
		o.GCMarkNs = overlap(f.Marks, own, r.End, skip)
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].EndNs-out[i].IntendedNs > out[j].EndNs-out[j].IntendedNs
	})
	return out
}
