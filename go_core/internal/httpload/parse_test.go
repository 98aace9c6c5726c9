package httpload

import (
	"errors"
	"strings"
	"testing"
)

type parsed struct {
	status    int
	closeConn bool
	used      int
	done      bool
	err       error
}

// parseIn feeds b to a fresh parser in pieces of n bytes (then EOF, if eof).
func parseIn(b []byte, n int, head, eof bool) parsed {
	var p parser
	p.reset(head)
	used := 0
	for used < len(b) && !p.done() {
		piece := b[used:min(used+n, len(b))]
		k, err := p.feed(piece)
		used += k
		if err != nil {
			return parsed{err: err, used: used}
		}
		if k < len(piece) && !p.done() {
			return parsed{err: errors.New("the parser left bytes of an unfinished response"), used: used}
		}
	}
	var err error
	if eof && !p.done() {
		err = p.eof()
	}
	return parsed{status: p.status, closeConn: p.closeConn, used: used, done: p.done(), err: err}
}

func TestParserGolden(t *testing.T) {
	long := strings.Repeat("x", 70000)
	for _, c := range []struct {
		name, in  string
		head, eof bool
		status    int
		closeConn bool
		used      int // -1: all of in
		err       error
	}{
		{"length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", false, false, 200, false, 43, nil},
		{"no reason", "HTTP/1.1 204\r\n\r\n", false, false, 204, false, -1, nil},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: t\r\n\r\n", false, false, 200, false, -1, nil},
		{"head", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, false, 200, false, -1, nil},
		{"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n", false, false, 304, false, -1, nil},
		{"100 continue", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", false, false, 201, false, -1, nil},
		{"close", "HTTP/1.1 503 X\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, false, 503, true, -1, nil},
		{"1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", false, false, 200, true, -1, nil},
		{"1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", false, false, 200, false, -1, nil},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nbody bytes", false, true, 200, true, -1, nil},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false, false, 200, false, -1, nil},
		{"long body", "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n" + long, false, false, 200, false, -1, nil},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", false, false, 0, false, 0, errMalformed},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, false, 0, false, 0, errMalformed},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", false, false, 0, false, 0, errMalformed},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, false, 0, false, 0, errMalformed},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", false, true, 0, false, 0, errClosed},
		{"huge header", "HTTP/1.1 200 OK\r\nX: " + long + "\r\n\r\n", false, false, 0, false, 0, errHeaderLarge},
	} {
		for _, n := range []int{1, 2, 7, 1 << 20} {
			got := parseIn([]byte(c.in), n, c.head, c.eof)
			if c.err != nil {
				if !errors.Is(got.err, c.err) {
					t.Errorf("%s (pieces of %d): error %v, want %v", c.name, n, got.err, c.err)
				}
				continue
			}
			want := c.used
			if want < 0 {
				want = len(c.in)
			}
			if got.err != nil || !got.done || got.status != c.status || got.closeConn != c.closeConn || got.used != want {
				t.Errorf("%s (pieces of %d): %+v, want status %d close %v used %d", c.name, n, got, c.status, c.closeConn, want)
			}
		}
	}
}

// Any input, fed whole or byte by byte: no panic, and the same outcome.
func FuzzParser(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nx",
	} {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, head bool) {
		whole := parseIn(b, len(b)+1, head, true)
		bytewise := parseIn(b, 1, head, true)
		if (whole.err == nil) != (bytewise.err == nil) || whole.done != bytewise.done ||
			whole.status != bytewise.status || (whole.err == nil && whole.used != bytewise.used) {
			t.Fatalf("whole %+v, byte by byte %+v", whole, bytewise)
		}
	})
}
