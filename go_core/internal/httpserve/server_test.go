package httpserve

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func start(t *testing.T, doc string) *Server {
	t.Helper()
	s, err := Start([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, s *Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"version":1,"host":"0.0.0.0"}`, "not a loopback"},
		{`{"version":1,"host":"10.1.2.3"}`, "not a loopback"},
		{`{"version":1,"host":"example.com"}`, "not a loopback"},
		{`{"version":2}`, "version"},
		{`{"version":1,"port":70000}`, "port"},
		{`{"version":1,"path":"x"}`, "path"},
		{`{"version":1,"workers":0}`, "workers"},
		{`{"version":1,"max_header_bytes":10}`, "max_header_bytes"},
		{`{"version":1,"handler":{"kind":"nope"}}`, "unknown workload"},
		{`{"version":1,"handler":{"kind":"spin","ns":5,"x":1}}`, `workload spin: unknown key "x"`},
		{`{"version":1,"prot":80}`, `server config: unknown key "prot"`},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			_, err := Start([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	for _, h := range []string{"127.0.0.1", "::1", "localhost", "127.0.0.2"} {
		if !IsLoopback(h) {
			t.Errorf("%s should be loopback", h)
		}
	}
}

func TestRoutesAndStats(t *testing.T) {
	s := start(t, `{"version":1,"path":"/work","body_bytes":100,"workers":2,"handler":{"kind":"spin","ns":1000}}`)
	if code, body := get(t, s, "/work"); code != 200 || len(body) != 100 {
		t.Fatalf("/work: %d, %d bytes", code, len(body))
	}
	if code, _ := get(t, s, "/other"); code != 404 {
		t.Fatalf("/other: %d", code)
	}
	if code, _ := get(t, s, "/status/503"); code != 503 {
		t.Fatalf("/status/503: %d", code)
	}
	st := s.Stats()
	if st.Requests != 3 || len(st.Statuses) != 3 {
		t.Fatalf("stats: %+v", st)
	}
	code, page := get(t, s, "/metrics")
	if code != 200 {
		t.Fatal(code)
	}
	for _, want := range []string{
		"# TYPE go_goroutines gauge", "# TYPE go_gc_pauses_seconds histogram",
		`go_gc_pauses_seconds_bucket{le="+Inf"}`, "# TYPE golat_http_request_duration_seconds histogram",
		`golat_http_request_duration_seconds_bucket{code="200",le="+Inf"} 1`,
		`golat_http_request_duration_seconds_count{code="404"} 1`, `golat_http_requests_total{code="503"} 1`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("metrics page lacks %q", want)
		}
	}
}

// TestBadInput: garbage, huge headers and a client that never finishes its headers
// must not stop the server or lose its histogram.
func TestBadInput(t *testing.T) {
	s := start(t, `{"version":1,"read_header_timeout_ns":200000000,"max_header_bytes":4096}`)
	get(t, s, "/")
	raw := func(payload string) string {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		io.WriteString(c, payload)
		line, _ := bufio.NewReader(c).ReadString('\n')
		return line
	}
	if l := raw("\x00\x01garbage\r\n\r\n"); !strings.Contains(l, "400") {
		t.Errorf("garbage: %q", l)
	}
	if l := raw("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 100_000) + "\r\n\r\n"); !strings.Contains(l, "431") {
		t.Errorf("huge header: %q", l)
	}
	// A slow client: half a request line, then silence past ReadHeaderTimeout.
	if l := raw("GET / HT"); l != "" && !strings.Contains(l, "408") && !strings.Contains(l, "400") {
		t.Errorf("slow client: %q", l)
	}
	if code, _ := get(t, s, "/"); code != 200 {
		t.Fatal(code)
	}
	if st := s.Stats(); st.Requests != 2 {
		t.Fatalf("histogram lost or polluted: %d requests recorded, want 2", st.Requests)
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := Start([]byte(`{"version":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestBusyPortIsAConfigError: a port another listener holds is refused with a message that
// says so, and the failed start leaves nothing behind (it once panicked in its clean-up).
func TestBusyPortIsAConfigError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	for i := 0; i < 2; i++ { // twice: the first failure must not poison the second
		_, err = Start([]byte(fmt.Sprintf(`{"version":1,"port":%d,"workers":2}`, port)))
		want := fmt.Sprintf("port %d is in use", port)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("start on a busy port: %v, want %q", err, want)
		}
	}
}
