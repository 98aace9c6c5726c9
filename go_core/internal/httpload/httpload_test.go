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
		{`{"kind":"http","urls":["http://10.0.0.1:80/"]}`, "not a loopback"},
		{`{"kind":"http","urls":["http://example.com/"]}`, "not a loopback"},
		{`{"kind":"http","urls":["ftp://127.0.0.1/"]}`, "http://host"},
		{`{"kind":"http","urls":["http://127.0.0.1:99999/"]}`, "port must be"},
		{`{"kind":"http","urls":["http://127.0.0.1/","http://127.0.0.2/"]}`, "the first's scheme and host"},
		{`{"kind":"http","urls":["x"]}`, "http://host"},
		{`{"kind":"http","urls":["/a b"]}`, "spaces"},
		{`{"kind":"http","urls":["/a"],"ca_file":"x"}`, "not the in-process server"},
		{`{"kind":"http","urls":["http://127.0.0.1/"],"ca_file":"x"}`, "for https"},
		{`{"kind":"http","connections":-1}`, "connections"},
		{`{"kind":"http","method":"get"}`, "method"},
		{`{"kind":"http","headers":["X-A 1"]}`, "Name: value"},
		{`{"kind":"http","headers":["Content-Length: 3"]}`, "set by golat"},
		{`{"kind":"http","weights":[1,2]}`, "one per url"},
		{`{"kind":"http","weights":[0]}`, "add up to 0"},
		{`{"kind":"http","engine":"io_uring"}`, "engine must be"},
		{`{"kind":"http","body":"YQ==","body_file":"/x"}`, "not both"},
		{`{"kind":"http","handler":{"kind":"nope"}}`, "unknown workload"},
	} {
		if _, err := workload.Decode(json.RawMessage(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestRunSplitsByStatus(t *testing.T) {
	r, err := loop.Start([]byte(`{"version":1,"workload":{"kind":"http","urls":["/","/status/503"]},"requests":40,"workers":2}`))
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

func TestFewerConnectionsThanWorkers(t *testing.T) {
	r, err := loop.Start([]byte(`{"version":1,"workload":{"kind":"http","connections":1},"requests":5,"workers":2}`))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if !strings.Contains(rep.Error, "connections=1 < workers=2") {
		t.Fatalf("error: %q", rep.Error)
	}
}

func TestRefusedTargetIsErrorClass(t *testing.T) {
	// Port 1 on loopback: nothing listens there, the dial is refused at start.
	r, err := loop.Start([]byte(`{"version":1,"workload":{"kind":"http","urls":["http://127.0.0.1:1/"]},"requests":5}`))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if !strings.Contains(rep.Error, "cannot connect") {
		t.Fatalf("error: %q", rep.Error)
	}
}
