package httpload

import (
	"encoding/json"
	"strings"
	"testing"

	"golat/go_core/internal/loop"
	"golat/go_core/internal/workload"
)

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"kind":"http","target":"10.0.0.1:80"}`, "not a loopback"},
		{`{"kind":"http","target":"nohost"}`, "host:port"},
		{`{"kind":"http","paths":["x"]}`, "start with '/'"},
		{`{"kind":"http","paths":["/a b"]}`, "spaces"},
		{`{"kind":"http","connections":-1}`, "connections"},
		{`{"kind":"http","handler":{"kind":"nope"}}`, "unknown workload"},
	} {
		if _, err := workload.Decode(json.RawMessage(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestRunSplitsByStatus(t *testing.T) {
	r, err := loop.Start([]byte(`{"version":1,"workload":{"kind":"http","paths":["/","/status/503"]},"requests":40,"workers":2}`))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	got := map[string]int64{}
	for _, c := range rep.Classes {
		got[c.Label] = c.Requests
	}
	if got["200 GET /"] != 20 || got["503 GET /status/503"] != 20 {
		t.Fatalf("classes: %v", got)
	}
}

func TestMoreConnectionsThanWorkers(t *testing.T) {
	r, err := loop.Start([]byte(`{"version":1,"workload":{"kind":"http","connections":3},"requests":5,"workers":2}`))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if !strings.Contains(rep.Error, "connections=3 > workers=2") {
		t.Fatalf("error: %q", rep.Error)
	}
}

func TestRefusedTargetIsErrorClass(t *testing.T) {
	// Port 1 on loopback: nothing listens there, the dial is refused at start.
	r, err := loop.Start([]byte(`{"version":1,"workload":{"kind":"http","target":"127.0.0.1:1"},"requests":5}`))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if !strings.Contains(rep.Error, "cannot connect") {
		t.Fatalf("error: %q", rep.Error)
	}
}
