package loop

import (
	"math"
	"math/rand/v2"
	"testing"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/jsondoc/jsondoctest"
)

// FuzzParseRunDocument: whatever the bytes, Parse returns an error or a Config whose time
// arithmetic stays inside int64 (the schedule moves forward from t0, the window ends after
// it starts) and which reads back the same from its own JSON.
func FuzzParseRunDocument(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"workload":{"kind":"noop"},"requests":1000}`,
		`{"version":1,"workload":{"kind":"spin","ns":1000},"rate":20000,"arrivals":"poisson","duration_ns":1e9,"warmup_ns":1e8,"seed":7}`,
		`{"version":1,"workload":{"kind":"noop"},"rate":0.0002777777777777778,"requests":3}`,
		`{"version":1,"workload":{"kind":"noop"},"rate":1e-12,"duration_ns":1e7}`,
		`{"version":1,"workload":{"kind":"noop"},"rate":1e9,"duration_ns":3600e9,"warmup_ns":3600e9,"stall":{"every_ns":9223372036854775806,"duration_ns":3600e9}}`,
		`{"version":1,"workload":{"kind":"timer","interval_ns":10e9},"duration_ns":60e9,"timeline_ns":1e6}`,
		`{"version":1,"workload":{"kind":"noop"},"rate_steps":[{"rate":1000,"duration_ns":1e9},{"rate":0.001,"duration_ns":3600e9}],"duration_ns":3601e9}`,
		`{"version":1,"workload":{"kind":"noop"},"requests":1,"gc":{"gc_percent":-1},"managed_gc":{"sample_ns":1,"max_wait_ns":3600e9}}`,
		`{"version":1,"workload":{"kind":"noop"},"requests":1,"workers":3,"lock_os_thread":true,"cpus":[0,1,2]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, _, err := Parse(doc)
		if err != nil {
			return
		}
		checkTimeArithmetic(t, c)
		jsondoctest.Rereads(t, c, func(b []byte) (Config, error) {
			c, _, err := Parse(b)
			return c, err
		})
	})
}

// checkTimeArithmetic builds what a run builds from c, from a t0 near today's clock, and
// checks that nothing wrapped.
func checkTimeArithmetic(t *testing.T, c Config) {
	t.Helper()
	t0 := clock.Now() + 1_000_000
	r := &Run{cfg: c}
	r.measureFrom = clock.SatAdd(t0, c.WarmupNs)
	if r.measureFrom < t0 {
		t.Fatalf("measure from %d before t0 %d", r.measureFrom, t0)
	}
	w := &worker{run: r}
	if end := w.end(r); end < r.measureFrom {
		t.Fatalf("window ends at %d before it starts at %d", end, r.measureFrom)
	}
	if !c.open() {
		return
	}
	s := r.schedule(t0)
	var rng *rand.Rand
	if c.Arrivals == "poisson" {
		rng = rand.New(rand.NewPCG(c.Seed, 1))
	}
	st := s.Stream(0, c.Workers, rng)
	prev := t0
	for i := 0; i < 64; i++ {
		at := st.Next()
		if at == math.MaxInt64 {
			break
		}
		if at < prev {
			t.Fatalf("arrival %d at %d before the one before it (%d): the schedule went back", i, at, prev)
		}
		prev = at
	}
	if c.Stall != nil {
		next := clock.SatAdd(r.measureFrom, c.Stall.EveryNs)
		if next < r.measureFrom {
			t.Fatalf("first stall at %d before the window (%d)", next, r.measureFrom)
		}
	}
}

// FuzzParsePoolDocument: whatever the bytes, ParsePool returns an error or a document
// NewPool would accept (checked without starting threads) that reads back the same.
func FuzzParsePoolDocument(f *testing.F) {
	for _, s := range []string{
		`{"version":1,"workers":1}`,
		`{"version":1,"workers":2,"lock_os_thread":true,"cpus":[0,1],"numa":"bind","numa_nodes":[0]}`,
		`{"version":1,"workers":1,"lock_os_thread":true,"policy":"fifo","priority":99,"mlock":true,"gomaxprocs":3}`,
		`{"version":1,"workers":0}`,
		`{"version":1,"workers":1,"cpus":[-1]}`,
		`{"version":1,"workers":1,"wokers":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := ParsePool(doc)
		if err != nil {
			return
		}
		if err := d.Threads.validatePool(d.Workers); err != nil {
			t.Fatalf("ParsePool accepted what NewPool refuses: %v", err)
		}
		jsondoctest.Rereads(t, d, ParsePool)
	})
}
