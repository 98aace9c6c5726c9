package workload

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	ok := []string{
		`{"kind":"noop"}`,
		`{"kind":"spin","ns":1000}`,
		`{"kind":"alloc","size":64,"count":2,"live_bytes":4096}`,
		`{"kind":"pooled_alloc","size":64,"count":2,"live_bytes":0}`,
		`{"kind":"syscall","syscall":"getpid"}`,
		`{"kind":"syscall","syscall":"pipe"}`,
	}
	for _, s := range ok {
		w, err := Decode(json.RawMessage(s))
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		req, closeFn, err := w.NewWorker(0, 1)
		if err != nil {
			t.Fatalf("%s: NewWorker: %v", s, err)
		}
		for i := 0; i < 100; i++ {
			req()
		}
		closeFn()
	}
	bad := map[string]string{
		`{"kind":"spin","ns":-1}`:             "spin: ns",
		`{"kind":"alloc","size":0,"count":1}`: "size must be",
		`{"kind":"alloc","size":8,"count":0}`: "count must be",
		`{"kind":"syscall","syscall":"fork"}`: "syscall: kind",
		`{"kind":"what"}`:                     "unknown workload",
		`{"kind":"spin","ns":"x"}`:            `workload spin is not valid: "ns" must be an integer`,
		`{"kind":"spin","ns":1,"nss":2}`:      `workload spin: unknown key "nss" (allowed: dist, kind, ns, seed, sigma)`,
		`{"kind":"noop","ns":1}`:              `workload noop: unknown key "ns" (allowed: kind)`,
		`{"kind":"spin","NS":1000}`:           `unknown key "NS"`,
		`not json`:                            "workload spec is not a JSON object",
	}
	for s, want := range bad {
		if _, err := Decode(json.RawMessage(s)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", s, err, want)
		}
	}
}

func TestPooledAllocDoesNotAllocate(t *testing.T) {
	w, err := Decode(json.RawMessage(`{"kind":"pooled_alloc","size":1024,"count":16,"live_bytes":65536}`))
	if err != nil {
		t.Fatal(err)
	}
	req, closeFn, _ := w.NewWorker(0, 1)
	defer closeFn()
	if a := testing.AllocsPerRun(1000, req); a != 0 {
		t.Fatalf("pooled_alloc allocates %v times per request, want 0", a)
	}
	w, _ = Decode(json.RawMessage(`{"kind":"alloc","size":1024,"count":16,"live_bytes":65536}`))
	req, closeFn2, _ := w.NewWorker(0, 1)
	defer closeFn2()
	if a := testing.AllocsPerRun(1000, req); a < 16 {
		t.Fatalf("alloc allocates %v times per request, want 16", a)
	}
}

func TestSpinDistributionsKeepTheirMean(t *testing.T) {
	for _, c := range []struct {
		dist       string
		sigma      float64
		cvLo, cvHi float64 // coefficient of variation: 1 for exp, sqrt(e^(s^2)-1) lognormal
	}{{"exp", 1, 0.95, 1.05}, {"lognormal", 0.5, 0.50, 0.57}} {
		w, err := Decode(json.RawMessage(`{"kind":"spin","ns":1000000,"dist":"` + c.dist + `","sigma":` + fmt.Sprint(c.sigma) + `,"seed":1}`))
		if err != nil {
			t.Fatal(err)
		}
		draw := w.(spin).draws(0)
		var sum, sq float64
		const n = 200_000
		for i := 0; i < n; i++ {
			x := float64(draw())
			sum += x
			sq += x * x
		}
		m := sum / n
		cv := math.Sqrt(sq/n-m*m) / m
		if math.Abs(m/1e6-1) > 0.02 || cv < c.cvLo || cv > c.cvHi {
			t.Errorf("%s: mean %.0f (want 1e6), cv %.3f (want %.2f..%.2f)", c.dist, m, cv, c.cvLo, c.cvHi)
		}
	}
	for _, bad := range []string{`"dist":"pareto"`, `"sigma":0`, `"sigma":5`} {
		if _, err := Decode(json.RawMessage(`{"kind":"spin","ns":1000,` + bad + `}`)); err == nil {
			t.Errorf("spin with %s accepted", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"kind":"spin","ns":5}`)
	f.Add(`{"kind":"alloc","size":1,"count":1,"live_bytes":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		w, err := Decode(json.RawMessage(s))
		if err == nil && w == nil {
			t.Fatal("nil workload without error")
		}
	})
}

// TestEcho: every kind's echo decodes to the same echo (a fixed point), carries its kind and
// fills in defaults; Python's round trip through the core is checked in tests/test_model.py.
func TestEcho(t *testing.T) {
	for spec, want := range map[string]string{
		`{"kind":"noop"}`:                                    `{"kind":"noop"}`,
		`{"kind":"spin","ns":1000}`:                          `{"dist":"const","kind":"spin","ns":1000,"seed":0,"sigma":1}`,
		`{"kind":"spin","ns":1000,"dist":"exp","seed":3}`:    `{"dist":"exp","kind":"spin","ns":1000,"seed":3,"sigma":1}`,
		`{"kind":"alloc","size":64,"count":2}`:               `{"count":2,"kind":"alloc","live_bytes":0,"size":64}`,
		`{"kind":"pooled_alloc","size":64,"count":2}`:        `{"count":2,"kind":"pooled_alloc","live_bytes":0,"size":64}`,
		`{"kind":"syscall","syscall":"pipe"}`:                `{"kind":"syscall","syscall":"pipe"}`,
		`{"kind":"timer","interval_ns":200000}`:              `{"interval_ns":200000,"kind":"timer","method":"clock_nanosleep"}`,
		`{"kind":"jitter"}`:                                  `{"kind":"jitter","threshold_ns":10000}`,
		`{"kind":"memchase","bytes":4096}`:                   `{"bytes":4096,"hops":1000,"kind":"memchase","node":-1,"seed":0}`,
		`{"kind":"memchase","bytes":4096,"node":1,"seed":7}`: `{"bytes":4096,"hops":1000,"kind":"memchase","node":1,"seed":7}`,
	} {
		w, err := Decode(json.RawMessage(spec))
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		echo, err := Echo(json.RawMessage(spec), w)
		if err != nil {
			t.Fatalf("%s: echo: %v", spec, err)
		}
		if string(echo) != want {
			t.Errorf("%s: echo %s, want %s", spec, echo, want)
		}
		w2, err := Decode(echo)
		if err != nil {
			t.Fatalf("echo %s does not decode: %v", echo, err)
		}
		if again, _ := Echo(echo, w2); string(again) != string(echo) {
			t.Errorf("echo of the echo %s differs: %s", echo, again)
		}
	}
}
