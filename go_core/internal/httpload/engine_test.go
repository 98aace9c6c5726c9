package httpload

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golat/go_core/internal/loop"
)

func runJSON(t *testing.T, doc map[string]any) *loop.Report {
	t.Helper()
	doc["version"] = 1
	b, _ := json.Marshal(doc)
	r, err := loop.Start(b)
	if err != nil {
		t.Fatal(err)
	}
	if !waitFor(r, 60*time.Second) {
		r.Stop()
		t.Fatal("run did not end in 60 s")
	}
	rep, _ := r.Result()
	return rep
}

// waitFor waits up to d for the run to end.
func waitFor(r *loop.Run, d time.Duration) bool {
	done := make(chan struct{})
	go func() { r.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func info(rep *loop.Report) map[string]any { m, _ := rep.WorkloadInfo.(map[string]any); return m }

func classes(rep *loop.Report) map[string]int64 {
	out := map[string]int64{}
	for _, c := range rep.Classes {
		out[c.Label] = c.Requests
	}
	return out
}

// echoServer answers 200 with the request's method, body length and X-Test header.
func echoServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", fmt.Sprintf("%s %d %s", r.Method, len(b), r.Header.Get("X-Test")))
		if r.URL.Path == "/chunked" {
			w.Write([]byte(strings.Repeat("x", 5000)))
			w.(http.Flusher).Flush()
			w.Write([]byte("end"))
			return
		}
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprintf(w, "%s %d", r.Method, len(b))
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// Every engine sends every request of an open-loop run, to the right URLs, with its
// method, headers and body, and reports each connection's queued requests.
func TestEnginesAgainstAServer(t *testing.T) {
	s, seen := echoServer(t)
	for _, c := range []struct {
		engine         string
		conns, workers int
	}{{"blocking", 2, 2}, {"epoll", 40, 2}, {"netpoll", 40, 1}, {"auto", 3, 1}} {
		t.Run(c.engine, func(t *testing.T) {
			before := seen.Load()
			rep := runJSON(t, map[string]any{
				"workload": map[string]any{"kind": "http", "urls": []string{s.URL + "/a", "/chunked", "/close"},
					"method": "POST", "headers": []string{"X-Test: yes"}, "body": []byte("hello"),
					"connections": c.conns, "engine": c.engine},
				"rate": 3000, "duration_ns": 300_000_000, "warmup_ns": 50_000_000, "workers": c.workers,
			})
			if rep.Error != "" {
				t.Fatal(rep.Error)
			}
			in := info(rep)
			want := map[string]int64{"200 POST /a": rep.Requests / 3, "200 POST /chunked": rep.Requests / 3, "200 POST /close": rep.Requests / 3}
			got := classes(rep)
			for k, v := range want {
				if d := got[k] - v; d < -int64(c.conns) || d > int64(c.conns) {
					t.Errorf("classes %v, want about %v (info %v)", got, want, in)
				}
			}
			if in["errors"].(int64) != 0 || rep.Requests < 800 {
				t.Fatalf("%d requests, info %v", rep.Requests, in)
			}
			if n := seen.Load() - before; n != rep.Requests+rep.WarmupRequests {
				t.Errorf("the server saw %d requests, the client measured %d + %d", n, rep.Requests, rep.WarmupRequests)
			}
			if in["engine"] == "auto" || len(in["queued"].(map[string]any)["per_connection"].([]int64)) != c.conns {
				t.Errorf("info %v", in)
			}
			// /close makes the server close the connection: every third request redials.
			if d := in["dials"].(int64); d < int64(c.conns)+rep.Requests/3-int64(c.conns) {
				t.Errorf("%d dials for %d requests", d, rep.Requests)
			}
		})
	}
}

// A server that stalls 50 ms once: the requests due meanwhile on a connection queue
// behind it (counted per connection), and their latency holds the wait.
func TestQueuedRequestsShowTheStall(t *testing.T) {
	var stalled atomic.Bool
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" && stalled.CompareAndSwap(false, true) {
			time.Sleep(50 * time.Millisecond)
		}
	}))
	defer s.Close()
	for _, engine := range []string{"epoll", "blocking"} {
		stalled.Store(false)
		conns := 8
		workers := 1
		if engine == "blocking" {
			workers = conns
		}
		rep := runJSON(t, map[string]any{
			"workload": map[string]any{"kind": "http", "urls": []string{s.URL + "/", "/slow"}, "connections": conns, "engine": engine},
			"rate":     2000, "duration_ns": 300_000_000, "workers": workers,
		})
		if rep.Error != "" {
			t.Fatal(rep.Error)
		}
		q := info(rep)["queued"].(map[string]any)
		// 8 connections at 250/s each: a 50 ms stall on one connection queues ~12 of its
		// requests behind it.
		if q["max_per_connection"].(int64) < 5 || rep.Queued < 5 || q["connections_with_queued"].(int64) < 1 {
			t.Errorf("%s: queued %v, report %d", engine, q, rep.Queued)
		}
		if max := rep.Workers[0].LatencyMaxNs; engine == "epoll" && max < 40e6 {
			t.Errorf("%s: max latency %d ns, want the 50 ms stall in it", engine, max)
		}
	}
}

// selfSigned writes the test server's certificate as a CA file.
func caFile(t *testing.T, s *httptest.Server) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// https through crypto/tls on every engine, trusting the given CA; without it the
// handshake fails and the run says so.
func TestHTTPSWithACAFile(t *testing.T) {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer s.Close()
	ca := caFile(t, s)
	for _, engine := range []string{"blocking", "epoll", "netpoll"} {
		conns, workers := 4, 1
		if engine == "blocking" {
			workers = 4
		}
		rep := runJSON(t, map[string]any{
			"workload": map[string]any{"kind": "http", "urls": []string{s.URL + "/x"}, "ca_file": ca, "connections": conns, "engine": engine},
			"rate":     1000, "duration_ns": 200_000_000, "workers": workers,
		})
		if rep.Error != "" || classes(rep)["200 GET /x"] != rep.Requests || rep.Requests < 150 || info(rep)["tls"] != true {
			t.Fatalf("%s: %q %v %v", engine, rep.Error, classes(rep), info(rep))
		}
	}
	rep := runJSON(t, map[string]any{
		"workload": map[string]any{"kind": "http", "urls": []string{s.URL + "/x"}}, "requests": 3,
	})
	if !strings.Contains(rep.Error, "tls") || !strings.Contains(rep.Error, "certificate") {
		t.Fatalf("untrusted certificate: %q", rep.Error)
	}
}

// A server that never answers: each request times out, counted as a timeout.
func TestTimeoutsAreCountedByKind(t *testing.T) {
	addr := silent(t)
	for _, engine := range []string{"blocking", "epoll", "netpoll"} {
		rep := runJSON(t, map[string]any{
			"workload": map[string]any{"kind": "http", "urls": []string{"http://" + addr + "/"}, "engine": engine, "timeout_ns": 50_000_000},
			"rate":     100, "duration_ns": 100_000_000, "workers": 1,
		})
		k, _ := info(rep)["errors_by_kind"].(map[string]int64)
		if rep.Error != "" || k["timeout"] == 0 || classes(rep)["error timeout GET /"] != k["timeout"] {
			t.Fatalf("%s: %q, %v, classes %v", engine, rep.Error, info(rep), classes(rep))
		}
	}
}

// silent accepts connections and never answers.
func silent(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// A stop ends every engine's run promptly while requests hang on a silent server.
func TestStopEndsEveryEngine(t *testing.T) {
	addr := silent(t)
	for _, engine := range []string{"blocking", "epoll", "netpoll"} {
		b, _ := json.Marshal(map[string]any{"version": 1, "workers": 1, "rate": 1000, "duration_ns": 3600e9,
			"workload": map[string]any{"kind": "http", "urls": []string{"http://" + addr + "/"}, "engine": engine, "timeout_ns": 3600e9}})
		r, err := loop.Start(b)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		began := time.Now()
		r.Stop()
		if !waitFor(r, 2*time.Second) {
			t.Fatalf("%s: still running 2 s after Stop", engine)
		}
		rep, _ := r.Result()
		if !rep.Interrupted || rep.Error != "" {
			t.Fatalf("%s: %+v", engine, rep.Error)
		}
		t.Logf("%s ended %v after Stop", engine, time.Since(began).Round(time.Millisecond))
	}
}

// Closed loop (no rate): each connection sends its next request when the answer comes.
func TestClosedLoopOverManyConnections(t *testing.T) {
	rep := runJSON(t, map[string]any{
		"workload": map[string]any{"kind": "http", "connections": 16}, "requests": 2000, "workers": 2,
	})
	if rep.Error != "" || rep.Requests != 2000 || classes(rep)["200 GET /"] != 2000 {
		t.Fatalf("%q %d %v", rep.Error, rep.Requests, classes(rep))
	}
	if in := info(rep); in["engine"] != "epoll" || in["connections"] != 16 {
		t.Fatalf("info %v", in)
	}
}
