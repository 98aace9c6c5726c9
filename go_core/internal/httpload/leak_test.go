package httpload

import (
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"golat/go_core/internal/loop"
)

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	r, err := loop.Start([]byte(`{"version":1,"workload":{"kind":"http"},"duration_ns":200000000,"workers":2}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Wait()
	time.Sleep(200 * time.Millisecond)
	after := runtime.NumGoroutine()
	if after != before {
		pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
		t.Fatalf("goroutines %d -> %d", before, after)
	}
}
