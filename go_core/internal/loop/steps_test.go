package loop

import (
	"strings"
	"testing"
)

// A ramp's requests are split by the step of their intended start: each step gets
// exactly its rate times its duration (constant gaps), and the steps add up to the run.
func TestRampStepsCountTheirArrivals(t *testing.T) {
	rep := runDoc(t, `{"version":1,"workload":{"kind":"noop"},"workers":2,"warmup_ns":20000000,
		"duration_ns":300000000,"rate_steps":[{"rate":1000,"duration_ns":100000000},
		{"rate":2000,"duration_ns":100000000},{"rate":4000,"duration_ns":100000000}]}`, nil)
	if len(rep.Steps) != 3 {
		t.Fatalf("steps %+v", rep.Steps)
	}
	var sum int64
	for k, want := range []int64{100, 200, 400} {
		s := rep.Steps[k]
		if s.Requests != want || s.StartNs != int64(k)*100_000_000 || s.DurationNs != 100_000_000 {
			t.Errorf("step %d: %+v, want %d requests", k, s, want)
		}
		sum += s.Requests
	}
	if sum != rep.Requests || rep.WarmupRequests != 20 {
		t.Fatalf("steps hold %d of %d requests; %d warm-up (want 20, at the first rate)", sum, rep.Requests, rep.WarmupRequests)
	}
}

func TestRampDocumentRefusals(t *testing.T) {
	steps := []map[string]any{{"rate": 100, "duration_ns": 1_000_000_000}}
	for _, c := range []struct {
		over map[string]any
		want string
	}{
		{map[string]any{"rate_steps": steps, "duration_ns": 1_000_000_000, "rate": 5, "requests": nil}, "not both"},
		{map[string]any{"rate_steps": steps, "duration_ns": 2_000_000_000, "requests": nil}, "steps' total"},
		{map[string]any{"rate_steps": steps, "duration_ns": 1_000_000_000}, "requests 0"},
		{map[string]any{"rate_steps": []map[string]any{{"rate": 0, "duration_ns": 1e9}}, "duration_ns": 1e9, "requests": nil}, "rate_steps[0]: rate"},
		{map[string]any{"rate_steps": steps, "duration_ns": 1e9, "requests": nil, "workload": map[string]any{"kind": "jitter"}}, "back to back"},
	} {
		if _, _, err := Parse(doc(t, c.over)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want %q", c.over, err, c.want)
		}
	}
}
