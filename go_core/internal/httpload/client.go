package httpload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// conn is one keep-alive HTTP/1.1 connection of the client. It writes a request built
// once and reads the response with a small parser that allocates nothing: the client's
// own cost and garbage stay out of the server's numbers, as with wrk.
//
// The socket is a blocking one read and written with plain system calls, not through
// Go's network poller: the worker's thread sleeps in read() and the kernel wakes it when
// the answer arrives, as a C client's thread would, so the response does not also wait
// for the Go scheduler to notice it (a parked goroutine, a netpoll wake-up, a free P).
type conn struct {
	addr    string
	c       io.ReadWriteCloser
	r       *bufio.Reader
	timeout time.Duration
}

var errMalformed = errors.New("malformed HTTP response")

// dial (re)opens the connection.
func (k *conn) dial() error {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
	c, err := dialBlocking(k.addr, k.timeout)
	if err != nil {
		return err
	}
	k.c = c
	if k.r == nil {
		k.r = bufio.NewReaderSize(c, 16<<10)
	} else {
		k.r.Reset(c)
	}
	return nil
}

func (k *conn) close() {
	if k.c != nil {
		k.c.Close()
		k.c = nil
	}
}

// roundTrip sends req and reads one whole response; it returns the status code and
// whether the server asked to close the connection.
func (k *conn) roundTrip(req []byte) (status int, closeConn bool, err error) {
	if _, err := k.c.Write(req); err != nil {
		return 0, true, err
	}
	line, err := k.r.ReadSlice('\n')
	if err != nil {
		return 0, true, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, true, errMalformed
	}
	status, ok := atoi(line[9:12])
	if !ok {
		return 0, true, errMalformed
	}
	length, chunked := int64(-1), false
	for {
		h, err := k.r.ReadSlice('\n')
		if err != nil {
			return status, true, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, found := bytes.Cut(h, []byte(":"))
		if !found {
			return status, true, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := atoi(value)
			if !ok {
				return status, true, errMalformed
			}
			length = int64(n)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closeConn = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		err = k.discardChunked()
	case length >= 0:
		_, err = k.r.Discard(int(length))
	case status == 204 || status == 304 || status < 200:
	default:
		return status, true, fmt.Errorf("response %d has no length (read-until-close bodies are not supported)", status)
	}
	return status, closeConn, err
}

func (k *conn) discardChunked() error {
	for {
		line, err := k.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, ok := hexToInt(line)
		if !ok {
			return errMalformed
		}
		if n == 0 {
			for { // trailers up to the empty line
				t, err := k.r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := k.r.Discard(n + 2); err != nil {
			return err
		}
	}
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func hexToInt(b []byte) (int, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n*16 + int(d)
	}
	return n, true
}
