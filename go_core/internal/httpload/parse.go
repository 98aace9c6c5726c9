package httpload

import (
	"bytes"
	"errors"
)

// parser reads one HTTP/1.x response fed to it in pieces, as they arrive, without
// allocating once its header buffer has grown: the same parser serves a blocking read
// loop and an event loop that gets a few bytes at a time. Bodies are counted, never kept.
//
// Framing (RFC 9112 section 6.3): a response to HEAD, 1xx, 204 and 304 has no body;
// otherwise chunked, then Content-Length, then (no length) the body runs to the
// connection's close. 1xx interim responses (100 Continue) are skipped. An HTTP/1.0
// response closes the connection unless it says keep-alive.
type parser struct {
	head      bool // the request was HEAD
	state     int
	hdr       []byte // the header block so far (kept between pieces)
	status    int    // of the final response
	closeConn bool   // the server will close the connection after this response
	remain    int64  // body bytes left (stBody, stChunk)
	chunkLine []byte // a chunk-size or trailer line so far
}

const (
	stHeader = iota
	stBody
	stUntilClose
	stChunkSize
	stChunk
	stChunkCRLF
	stTrailer
	stDone
)

// maxHeader bounds a response's header block, as net/http's client does (1 MiB there;
// a load generator's server answers with a few hundred bytes).
const maxHeader = 64 << 10

var (
	errMalformed   = errors.New("malformed HTTP response")
	errHeaderLarge = errors.New("response header over 64 KiB")
)

// reset readies the parser for the response to the next request.
func (p *parser) reset(head bool) {
	*p = parser{head: head, hdr: p.hdr[:0], chunkLine: p.chunkLine[:0]}
}

// done says whether the response is complete.
func (p *parser) done() bool { return p.state == stDone }

// feed parses b and returns how many bytes of it belong to the response; the response is
// complete when done() (bytes after it are not the parser's).
func (p *parser) feed(b []byte) (int, error) {
	used := 0
	for used < len(b) && p.state != stDone {
		n, err := p.step(b[used:])
		used += n
		if err != nil {
			return used, err
		}
	}
	return used, nil
}

// eof tells the parser the connection closed; it completes a body that runs to the close
// and is an error anywhere else.
func (p *parser) eof() error {
	if p.state == stUntilClose {
		p.state, p.closeConn = stDone, true
		return nil
	}
	return errClosed
}

var errClosed = errors.New("connection closed by the server before a whole response")

func (p *parser) step(b []byte) (int, error) {
	switch p.state {
	case stHeader:
		return p.header(b)
	case stBody:
		n := int(min(int64(len(b)), p.remain))
		if p.remain -= int64(n); p.remain == 0 {
			p.state = stDone
		}
		return n, nil
	case stUntilClose:
		return len(b), nil
	case stChunkSize, stTrailer:
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(p.chunkLine)+len(b) > 4096 {
				return len(b), errMalformed
			}
			p.chunkLine = append(p.chunkLine, b...)
			return len(b), nil
		}
		line := append(p.chunkLine, b[:i]...)
		p.chunkLine = line[:0]
		line = bytes.TrimRight(line, "\r")
		if p.state == stTrailer {
			if len(line) == 0 {
				p.state = stDone
			}
			return i + 1, nil
		}
		if k := bytes.IndexByte(line, ';'); k >= 0 {
			line = line[:k]
		}
		size, ok := hexToInt(line)
		if !ok {
			return i + 1, errMalformed
		}
		if size == 0 {
			p.state = stTrailer
		} else {
			p.state, p.remain = stChunk, int64(size)
		}
		return i + 1, nil
	case stChunk:
		n := int(min(int64(len(b)), p.remain))
		if p.remain -= int64(n); p.remain == 0 {
			p.state, p.remain = stChunkCRLF, 2
		}
		return n, nil
	case stChunkCRLF:
		n := int(min(int64(len(b)), p.remain))
		if p.remain -= int64(n); p.remain == 0 {
			p.state = stChunkSize
		}
		return n, nil
	}
	return len(b), nil
}

// header collects the header block up to its empty line, then reads it.
func (p *parser) header(b []byte) (int, error) {
	start := len(p.hdr)
	// The block ends at "\n\r\n" or "\n\n"; look from a little before the new bytes.
	from := max(0, start-3)
	p.hdr = append(p.hdr, b...)
	end := -1
	for i := from; i < len(p.hdr); i++ {
		if p.hdr[i] != '\n' {
			continue
		}
		if i+1 < len(p.hdr) && p.hdr[i+1] == '\n' {
			end = i + 2
			break
		}
		if i+2 < len(p.hdr) && p.hdr[i+1] == '\r' && p.hdr[i+2] == '\n' {
			end = i + 3
			break
		}
	}
	if end < 0 || end > maxHeader {
		if len(p.hdr) > maxHeader {
			return len(b), errHeaderLarge
		}
		return len(b), nil
	}
	used := end - start
	block := p.hdr[:end]
	p.hdr = p.hdr[:0]
	if err := p.readHeader(block); err != nil {
		return used, err
	}
	return used, nil
}

// readHeader reads a complete header block and sets the body's framing.
func (p *parser) readHeader(block []byte) error {
	line, rest, _ := bytes.Cut(block, []byte("\n"))
	line = bytes.TrimRight(line, "\r")
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' ||
		(len(line) > 12 && line[12] != ' ') {
		return errMalformed
	}
	status, ok := atoi(line[9:12])
	if !ok || status < 100 {
		return errMalformed
	}
	http10 := line[7] == '0'
	length, chunked, keepAlive, closeConn := int64(-1), false, false, false
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\n"))
		h = bytes.TrimRight(h, "\r")
		if len(h) == 0 {
			break
		}
		name, value, found := bytes.Cut(h, []byte(":"))
		if !found {
			return errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, ok := atoi(value)
			if !ok || (length >= 0 && int64(n) != length) {
				return errMalformed
			}
			length = int64(n)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = hasToken(value, "chunked")
		case bytes.EqualFold(name, []byte("Connection")):
			closeConn = closeConn || hasToken(value, "close")
			keepAlive = keepAlive || hasToken(value, "keep-alive")
		}
	}
	if status < 200 { // interim (100 Continue, 103 Early Hints): the real one follows
		return nil
	}
	p.status = status
	p.closeConn = closeConn || (http10 && !keepAlive)
	switch {
	case p.head || status == 204 || status == 304:
		p.state = stDone
	case chunked:
		p.state = stChunkSize
	case length == 0:
		p.state = stDone
	case length > 0:
		p.state, p.remain = stBody, length
	default:
		p.state, p.closeConn = stUntilClose, true
	}
	return nil
}

// hasToken says whether the comma-separated header value holds tok (any case).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte(","))
		if bytes.EqualFold(bytes.TrimSpace(t), []byte(tok)) {
			return true
		}
	}
	return false
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
