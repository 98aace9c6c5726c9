// Package loop runs request loops: workers serving a workload back to back (closed loop)
// or at a fixed or Poisson arrival rate (open loop), measuring each request's latency from
// its intended start (coordinated omission corrected) and its service time from its
// actual start, into one histogram each per worker.
package loop

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"golat/go_core/internal/gcctl"
	"golat/go_core/internal/gcmanage"
	"golat/go_core/internal/jsondoc"
	"golat/go_core/internal/sched"
	"golat/go_core/internal/workload"
)

// ConfigVersion is the version of the run document this package reads.
const ConfigVersion = 1

// Config is the run document Python sends (JSON). Durations are ns, rate is req/s.
type Config struct {
	Version         int             `json:"version"`
	Workload        json.RawMessage `json:"workload"`
	Rate            float64         `json:"rate"` // 0: closed loop
	Arrivals        string          `json:"arrivals"`
	DurationNs      int64           `json:"duration_ns"` // 0: until Requests
	Requests        int64           `json:"requests"`    // measured requests; 0: until DurationNs
	WarmupNs        int64           `json:"warmup_ns"`
	Stall           *Stall          `json:"stall,omitempty"`
	Workers         int             `json:"workers"`
	Threads                         // lock_os_thread, cpus, policy, numa, mlock, gomaxprocs
	Precision       int             `json:"precision"`
	Seed            uint64          `json:"seed"`
	LateThresholdNs int64           `json:"late_threshold_ns"`
	GC              gcctl.Settings  `json:"gc"`
	// Managed turns on the managed-GC controller (with GC off and a memory limit in GC).
	Managed *gcmanage.Config `json:"managed_gc,omitempty"`
	// TimelineNs is the timeline's interval; 0 keeps no timeline.
	TimelineNs int64 `json:"timeline_ns"`
	// StartAtUnixNs, when > 0, is the wall-clock instant (Unix ns) at which the first
	// request is due: the hosts of a fleet run start together. 0 starts at once.
	StartAtUnixNs int64 `json:"start_at_unix_ns"`
	// RateSteps is a ramp: each step's rate held for its duration, in turn (the warm-up
	// runs at the first step's rate). DurationNs is then their sum, and Rate 0.
	RateSteps []sched.Step `json:"rate_steps"`
	// Outliers is how many of its slowest requests each worker keeps with their causes;
	// OutlierThresholdNs > 0 also keeps every request at least that slow (bounded).
	Outliers           int   `json:"outliers"`
	OutlierThresholdNs int64 `json:"outlier_threshold_ns"`
	// Pool is the handle of the pool whose threads run this (0: threads of its own); the
	// exports read it, the loop does not.
	Pool int64 `json:"pool"`
}

// Stall pauses a worker for DurationNs inside the request it is serving, once every
// EveryNs: injected fault, and the check that latency counts the requests behind it.
type Stall struct {
	EveryNs    int64 `json:"every_ns"`
	DurationNs int64 `json:"duration_ns"`
}

const maxNs = int64(3600e9) // one hour, the histograms' top

// maxOutliers bounds the slowest requests a worker keeps.
const maxOutliers = 100_000

// Parse decodes and validates a run document.
func Parse(doc []byte) (Config, workload.Workload, error) {
	c := Config{Workers: 1, Precision: 2, Arrivals: "constant", LateThresholdNs: 10_000, Outliers: 100}
	if err := jsondoc.Decode("run config", doc, &c); err != nil {
		return c, nil, err
	}
	if c.Version != ConfigVersion {
		return c, nil, fmt.Errorf("run config version %d is not supported (this core reads %d)", c.Version, ConfigVersion)
	}
	switch {
	case math.IsNaN(c.Rate) || c.Rate < 0 || c.Rate > sched.MaxRate || (c.Rate > 0 && c.Rate < sched.MinRate):
		return c, nil, fmt.Errorf("rate must be 0 (closed loop) or in [1/3600, 1e9] requests/s (one arrival an hour to one a ns), got %v", c.Rate)
	case c.Arrivals != "constant" && c.Arrivals != "poisson":
		return c, nil, fmt.Errorf("arrivals must be \"constant\" or \"poisson\", got %q", c.Arrivals)
	case c.DurationNs < 0 || c.DurationNs > maxNs:
		return c, nil, fmt.Errorf("duration_ns must be in 0..%d, got %d", maxNs, c.DurationNs)
	case c.Requests < 0:
		return c, nil, fmt.Errorf("requests must be >= 0, got %d", c.Requests)
	case c.DurationNs == 0 && c.Requests == 0:
		return c, nil, fmt.Errorf("a run needs a duration or a request count")
	case c.WarmupNs < 0 || c.WarmupNs > maxNs:
		return c, nil, fmt.Errorf("warmup_ns must be in 0..%d, got %d", maxNs, c.WarmupNs)
	case c.Workers < 1 || c.Workers > 4096:
		return c, nil, fmt.Errorf("workers must be in 1..4096, got %d", c.Workers)
	case c.Precision != 2 && c.Precision != 3:
		return c, nil, fmt.Errorf("precision must be 2 or 3 significant digits, got %d", c.Precision)
	case c.TimelineNs != 0 && (c.TimelineNs < 1_000_000 || c.TimelineNs > maxNs):
		return c, nil, fmt.Errorf("timeline_ns must be 0 (none) or in 1e6..%d (1 ms to 1 h), got %d", maxNs, c.TimelineNs)
	case c.StartAtUnixNs < 0 || c.StartAtUnixNs > time.Now().UnixNano()+maxNs:
		return c, nil, fmt.Errorf("start_at_unix_ns must be 0 (at once) or a wall-clock instant within the next hour, got %d", c.StartAtUnixNs)
	case c.LateThresholdNs < 0:
		return c, nil, fmt.Errorf("late_threshold_ns must be >= 0, got %d", c.LateThresholdNs)
	case c.Outliers < 0 || c.Outliers > maxOutliers:
		return c, nil, fmt.Errorf("outliers must be in 0..%d (slowest requests kept per worker), got %d", maxOutliers, c.Outliers)
	case c.OutlierThresholdNs < 0 || c.OutlierThresholdNs > maxNs:
		return c, nil, fmt.Errorf("outlier_threshold_ns must be 0 (none) or in 1..%d, got %d", maxNs, c.OutlierThresholdNs)
	}
	if len(c.RateSteps) > 0 {
		if err := sched.Check(c.RateSteps); err != nil {
			return c, nil, err
		}
		var total int64
		for _, st := range c.RateSteps {
			total += st.DurationNs
		}
		switch {
		case c.Rate != 0:
			return c, nil, fmt.Errorf("give rate or rate_steps, not both (rate %v)", c.Rate)
		case c.DurationNs != total || c.Requests != 0:
			return c, nil, fmt.Errorf("with rate_steps, duration_ns must be the steps' total (%d) and requests 0, got %d and %d", total, c.DurationNs, c.Requests)
		}
	}
	if s := c.Stall; s != nil && (s.EveryNs <= 0 || s.DurationNs <= 0 || s.DurationNs > maxNs) {
		return c, nil, fmt.Errorf("stall needs every_ns > 0 and duration_ns in 1..%d, got %+v", maxNs, *s)
	}
	if m := c.Managed; m != nil && (m.ThresholdBytes < 0 || m.SampleNs < 0 || m.SampleNs > maxNs ||
		m.MinGapNs < 0 || m.MinGapNs > maxNs || m.MaxWaitNs < 0 || m.MaxWaitNs > maxNs) {
		return c, nil, fmt.Errorf("managed_gc needs threshold_bytes >= 0 and sample_ns, min_gap_ns, max_wait_ns in 0..%d, got %+v", maxNs, *m)
	}
	if err := c.Threads.validate(c.Workers); err != nil {
		return c, nil, err
	}
	if c.Policy != "" && c.DurationNs == 0 {
		return c, nil, fmt.Errorf("a real-time (%s) run needs a bounded duration_ns", c.Policy)
	}
	if len(c.Workload) == 0 {
		return c, nil, fmt.Errorf("run config has no workload")
	}
	wl, err := workload.Decode(c.Workload)
	if err != nil {
		return c, nil, err
	}
	if _, ok := wl.(workload.Pacer); ok && c.open() {
		return c, nil, fmt.Errorf("this workload sets its own schedule (one wake-up per interval and worker); leave rate at 0")
	}
	if _, ok := wl.(workload.Sampler); ok && c.open() {
		return c, nil, fmt.Errorf("this workload runs back to back for the whole run; leave rate at 0")
	}
	return c, wl, nil
}

// open says whether the run document gives arrivals a rate (or a ramp of rates).
func (c *Config) open() bool { return c.Rate > 0 || len(c.RateSteps) > 0 }
