// Package threadstat counts what the kernel did to one thread over a window: context
// switches (voluntary and involuntary), CPU migrations, page faults and, where the PMU
// allows, cache misses; and the process's TLB shootdowns from /proc/interrupts.
//
// Counters come from software perf events on the thread (perf_event_open) when the
// kernel allows them, else from /proc/self/task/TID; Counters.Source says which.
package threadstat

// Source names where counters came from.
const (
	SourcePerf = "perf_event_open"
	SourceProc = "/proc"
)

// Counters is a snapshot, or (after Sub) the change over a window. A count is -1 when
// this machine cannot give it (no hardware counters in a VM, no sched debug file ...).
type Counters struct {
	Source            string `json:"source"`
	VoluntarySwitches int64  `json:"voluntary_switches"`
	InvoluntarySwitch int64  `json:"involuntary_switches"`
	Migrations        int64  `json:"migrations"`
	MinorFaults       int64  `json:"minor_faults"`
	MajorFaults       int64  `json:"major_faults"`
	CacheMisses       int64  `json:"cache_misses"`
}

// Sub is c - earlier, keeping -1 (unknown) where either side is unknown.
func (c Counters) Sub(earlier Counters) Counters {
	d := func(a, b int64) int64 {
		if a < 0 || b < 0 {
			return -1
		}
		return a - b
	}
	return Counters{
		Source:            c.Source,
		VoluntarySwitches: d(c.VoluntarySwitches, earlier.VoluntarySwitches),
		InvoluntarySwitch: d(c.InvoluntarySwitch, earlier.InvoluntarySwitch),
		Migrations:        d(c.Migrations, earlier.Migrations),
		MinorFaults:       d(c.MinorFaults, earlier.MinorFaults),
		MajorFaults:       d(c.MajorFaults, earlier.MajorFaults),
		CacheMisses:       d(c.CacheMisses, earlier.CacheMisses),
	}
}

// Usage is what Self reads of the calling thread: its id and cumulative counts.
type Usage struct {
	TID                 int
	InvoluntarySwitches int64
	MinorFaults         int64
	MajorFaults         int64
}
