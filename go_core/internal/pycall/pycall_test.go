package pycall

import (
	"encoding/json"
	"fmt"
	"testing"

	"golat/go_core/internal/workload"
)

func TestDecodeRejects(t *testing.T) {
	for _, doc := range []string{`{"kind":"python"}`, `{"kind":"python","fn":0}`, `{"kind":"python","fn":-1}`, `[`} {
		if _, err := workload.Decode(json.RawMessage(doc)); err == nil {
			t.Errorf("Decode(%s) accepted", doc)
		}
	}
}

func TestCallbackReturnCodes(t *testing.T) {
	wl, err := workload.Decode(json.RawMessage(fmt.Sprintf(`{"kind":"python","fn":%d}`, testFnAddress())))
	if err != nil {
		t.Fatal(err)
	}
	req, done, err := wl.NewWorker(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	stopper := wl.(workload.Stopper)
	for i := 1; i <= 5; i++ {
		if stopper.Stopped() {
			t.Fatalf("stopped before call %d", i)
		}
		req()
	}
	if !stopper.Stopped() || testCalls() != 5 {
		t.Fatalf("after 5 calls: stopped=%v calls=%d, want true 5", stopper.Stopped(), testCalls())
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"kind":"python","fn":1234}`))
	f.Add([]byte(`{"kind":"python","fn":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		wl, err := decode(b)
		if err == nil && wl.(python).Fn == 0 {
			t.Fatalf("accepted fn 0 from %q", b)
		}
	})
}
