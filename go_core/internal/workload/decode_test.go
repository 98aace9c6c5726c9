package workload

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeNewKinds(t *testing.T) {
	for _, tc := range []struct {
		spec, want string // want: "" for accepted, else a piece of the error
	}{
		{`{"kind":"timer","interval_ns":200000}`, ""},
		{`{"kind":"timer","interval_ns":200000,"method":"go"}`, ""},
		{`{"kind":"timer","interval_ns":999}`, "interval_ns must be in"},
		{`{"kind":"timer","interval_ns":200000,"method":"poll"}`, "method must be"},
		{`{"kind":"jitter"}`, ""},
		{`{"kind":"jitter","threshold_ns":0}`, "threshold_ns must be in"},
		{`{"kind":"memchase","bytes":4096}`, ""},
		{`{"kind":"memchase","bytes":64}`, "bytes must be in"},
		{`{"kind":"memchase","bytes":4096,"node":-2}`, "node must be"},
		{`{"kind":"memchase","bytes":4096,"hops":0}`, "hops must be in"},
		{`{"kind":"memchase","bytes":"big"}`, `"bytes" must be an integer`},
		{`{"kind":"timer","interval":200000}`, `workload timer: unknown key "interval" (allowed: interval_ns, kind, method)`},
	} {
		wl, err := Decode(json.RawMessage(tc.spec))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.spec, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err %v, want %q", tc.spec, err, tc.want)
		case tc.want == "":
			_, pacer := wl.(Pacer)
			_, sampler := wl.(Sampler)
			kind := strings.Split(tc.spec, `"`)[3]
			if pacer != (kind == "timer") || sampler != (kind == "jitter") {
				t.Errorf("%s: pacer %v sampler %v", kind, pacer, sampler)
			}
		}
	}
}

func TestMemChaseVisitsEveryLine(t *testing.T) {
	wl, err := Decode(json.RawMessage(`{"kind":"memchase","bytes":65536,"hops":1}`))
	if err != nil {
		t.Fatal(err)
	}
	req, closeFn, err := wl.NewWorker(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	m := wl.(*memChase)
	buf := m.Buffers(0)[0]
	lines := len(buf) / lineBytes
	// Follow the chain from line 0: a single cycle returns after exactly `lines` hops.
	next := func(i int) int {
		var v uint64
		for b := 7; b >= 0; b-- {
			v = v<<8 | uint64(buf[i*lineBytes+b])
		}
		return int(v / 8)
	}
	i, n := 0, 0
	for {
		i = next(i)
		n++
		if i == 0 || n > lines {
			break
		}
	}
	if n != lines {
		t.Errorf("cycle of %d lines through a %d-line buffer", n, lines)
	}
	req()
}

func FuzzDecodeThreadKinds(f *testing.F) {
	for _, s := range []string{`{"kind":"timer","interval_ns":1000}`, `{"kind":"jitter"}`,
		`{"kind":"memchase","bytes":128}`, `{"kind":"spin","ns":5}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Decode(json.RawMessage(s)) // must not panic
	})
}
