package httpload

import (
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"golat/go_core/internal/loop"
)

// settled is the goroutine count once earlier tests' goroutines have wound down: the
// same for 50 ms, or whatever it is after 2 s.
func settled() int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return n
		}
		n = m
	}
	return n
}

// A run leaves no goroutine behind (its connections' readers, the transport's keep-alives).
func TestNoGoroutineLeak(t *testing.T) {
	before := settled()
	r, err := loop.Start([]byte(`{"version":1,"workload":{"kind":"http"},"duration_ns":200000000,"workers":2}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Wait()
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); after > before && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		after = runtime.NumGoroutine()
	}
	if after > before {
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatalf("goroutines %d -> %d", before, after)
	}
}
