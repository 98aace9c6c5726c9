package tail

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"

	"golat/go_core/internal/clock"
)

// A forced collection during the watch shows as a pause and a mark phase of its cycle,
// both inside the time runtime.GC took.
func TestWatcherSeesForcedGC(t *testing.T) {
	w := StartWatcher(200_000)
	time.Sleep(5 * time.Millisecond)
	from := clock.Now()
	runtime.GC()
	to := clock.Now()
	time.Sleep(5 * time.Millisecond)
	pauses, marks, known := w.Stop()
	var st debug.GCStats
	debug.ReadGCStats(&st)
	found := false
	for _, p := range pauses {
		if p.Cycle == uint64(st.NumGC) {
			found = true
			if p.To < from || p.From > to || p.From > p.To {
				t.Errorf("pause %+v outside runtime.GC's [%d, %d]", p, from, to)
			}
		}
	}
	if !found {
		t.Fatalf("no pause of cycle %d among %+v", st.NumGC, pauses)
	}
	if !known {
		t.Skip("this Go does not count GC pauses: no mark phases")
	}
	for _, m := range marks {
		if m.Cycle == uint64(st.NumGC) {
			if m.To < from-1_000_000 || m.From > to {
				t.Errorf("mark %+v outside runtime.GC's [%d, %d]", m, from, to)
			}
			return
		}
	}
	t.Errorf("no mark phase of cycle %d among %+v", st.NumGC, marks)
}

// Every completed cycle counts two GC pauses: what the watcher's mark test rests on.
func TestTwoPausesPerCycle(t *testing.T) {
	var g gcCounts
	runtime.GC()
	g.read()
	if !g.ok {
		t.Skip("no GC pause count in this Go")
	}
	c0, p0 := g.cycles, g.pauses
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	g.read()
	if g.cycles-c0 != 3 || g.pauses-p0 != 6 || g.inMark() {
		t.Errorf("3 cycles: cycles +%d, pauses +%d, in mark %v", g.cycles-c0, g.pauses-p0, g.inMark())
	}
}

// The two sources of pauses, read once each: what a poll costs.
func BenchmarkPollMetrics(b *testing.B) {
	var g gcCounts
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		g.read()
	}
}

func BenchmarkReadGCStats(b *testing.B) {
	var st debug.GCStats
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		debug.ReadGCStats(&st)
	}
}

func BenchmarkReadMemStats(b *testing.B) {
	var ms runtime.MemStats
	for i := 0; i < b.N; i++ {
		runtime.ReadMemStats(&ms)
	}
}

func BenchmarkMetricsCyclesOnly(b *testing.B) {
	s := []metrics.Sample{{Name: metricCycles}}
	for i := 0; i < b.N; i++ {
		metrics.Read(s)
	}
}
