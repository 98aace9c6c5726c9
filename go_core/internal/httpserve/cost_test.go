package httpserve

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// What a request costs the server, piece by piece (docs/http-and-peers.md): net/http's
// parsing of a request as wrk sends it, the handler (workload call, histogram record,
// headers and body into the response), the histogram record alone, and the hand-over to
// a locked handler thread and back (two goroutine wake-ups).

const wrkRequest = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

func BenchmarkReadRequest(b *testing.B) {
	b.ReportAllocs()
	r := strings.NewReader("")
	br := bufio.NewReader(r)
	for i := 0; i < b.N; i++ {
		r.Reset(wrkRequest)
		br.Reset(r)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

// nullWriter is the least a ResponseWriter can be.
type nullWriter struct {
	h http.Header
}

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nullWriter) WriteHeader(int)             {}

func benchServer(b *testing.B, doc string) *Server {
	s, err := Start([]byte(doc))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkServeHTTP(b *testing.B) {
	for _, tc := range []struct{ name, doc string }{
		{"goroutine", `{"version":1,"workers":1}`},
		{"locked", `{"version":1,"workers":1,"lock_os_thread":true}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchServer(b, tc.doc)
			req, _ := http.NewRequest("GET", "/", nil)
			w := &nullWriter{h: http.Header{}}
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s.ServeHTTP(w, req)
			}
		})
	}
}

func BenchmarkRecord(b *testing.B) {
	s := benchServer(b, `{"version":1,"workers":1}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.record(200, 12345)
	}
}
