package httpload

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
	"unsafe"

	"golat/go_core/internal/clock"
)

// sliceNs bounds every wait of the client on the network (a connect, a blocked read, a
// full send buffer): the wait looks at the run's stop that often, so a stop ends it
// within 200 ms whatever the request timeout.
const sliceNs = 50_000_000

// errStopped ends a wait cut short by the run's stop: not the server's error.
var errStopped = errors.New("stopped")

var errTimeout = errors.New("timed out")

// dialFd connects a TCP socket to sa, waiting (poll, in slices) until deadline at most,
// and returns it non-blocking with TCP_NODELAY set.
func dialFd(sa syscall.Sockaddr, family int, deadline int64, stopped func() bool) (int, error) {
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if err = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1); err == nil {
		err = syscall.Connect(fd, sa)
		for err == syscall.EINTR {
			err = syscall.Connect(fd, sa)
		}
	}
	if err == syscall.EINPROGRESS {
		if err = waitFd(fd, pollOut, deadline, stopped); err == nil {
			var so int
			if so, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR); err == nil && so != 0 {
				err = syscall.Errno(so)
			}
		}
	}
	if err != nil {
		syscall.Close(fd)
		if err == errStopped || err == errTimeout {
			return -1, err
		}
		return -1, fmt.Errorf("connect: %w", err)
	}
	return fd, nil
}

// waitFd polls fd for events until it is ready, deadline passes (errTimeout) or the run
// stops (errStopped), looking at the stop every sliceNs.
func waitFd(fd int, events int16, deadline int64, stopped func() bool) error {
	pfd := [1]pollFd{{fd: int32(fd), events: events}}
	for {
		if stopped() {
			return errStopped
		}
		now := clock.Now()
		if now >= deadline {
			return errTimeout
		}
		n, err := poll(pfd[:], min(deadline-now, sliceNs))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

const (
	pollIn  = 0x1
	pollOut = 0x4
)

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

// poll is ppoll(2) (poll(2) is absent on arm64) with a timeout in ns.
func poll(fds []pollFd, timeoutNs int64) (int, error) {
	ts := syscall.NsecToTimespec(timeoutNs)
	n, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)),
		uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if e != 0 {
		return int(n), e
	}
	return int(n), nil
}

// setBlocking makes fd blocking, its reads and writes returning EAGAIN after sliceNs at
// most (SO_RCVTIMEO, SO_SNDTIMEO) so the caller can look at the stop.
func setBlocking(fd int) error {
	if err := syscall.SetNonblock(fd, false); err != nil {
		return err
	}
	tv := syscall.NsecToTimeval(sliceNs)
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	return syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
}

// fdConn is a socket as a net.Conn (what crypto/tls needs), read and written with plain
// system calls. A blocking socket (the blocking engine) sleeps in read() and is woken by
// the kernel when the answer arrives, with no Go scheduler in between; its calls wait
// until deadline in sliceNs slices. A non-blocking one (the event loop) returns errAgain
// from a read with nothing to read, which crypto/tls treats as temporary, and waits in
// poll() when its send buffer is full.
type fdConn struct {
	fd       int
	deadline int64 // of the request under way (monotonic ns)
	stopped  func() bool
	nonblock bool
	pollRead bool // a non-blocking socket's reads wait (poll) too: during a handshake
}

// errAgain is a temporary net.Error: crypto/tls keeps the connection and the partial
// record for the next Read.
var errAgain = agains{}

type agains struct{}

func (agains) Error() string   { return "resource temporarily unavailable" }
func (agains) Timeout() bool   { return true }
func (agains) Temporary() bool { return true }

func (c *fdConn) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(c.fd, p)
		switch {
		case err == nil && n == 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN && c.nonblock && c.pollRead:
			if err = waitFd(c.fd, pollIn, c.deadline, c.stopped); err == nil {
				continue
			}
		case err == syscall.EAGAIN && c.nonblock:
			return 0, errAgain
		case err == syscall.EAGAIN:
			if err = c.again(); err == nil {
				continue
			}
		}
		return 0, err
	}
}

func (c *fdConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.Write(c.fd, p[done:])
		switch {
		case err == nil:
			done += n
			continue
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN && c.nonblock:
			err = waitFd(c.fd, pollOut, c.deadline, c.stopped)
		case err == syscall.EAGAIN:
			err = c.again()
		}
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// again says whether a blocking call that waited one slice may wait another.
func (c *fdConn) again() error {
	if c.stopped() {
		return errStopped
	}
	if clock.Now() >= c.deadline {
		return errTimeout
	}
	return nil
}

func (c *fdConn) Close() error                     { return syscall.Close(c.fd) }
func (c *fdConn) LocalAddr() net.Addr              { return nil }
func (c *fdConn) RemoteAddr() net.Addr             { return nil }
func (c *fdConn) SetDeadline(time.Time) error      { return nil }
func (c *fdConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fdConn) SetWriteDeadline(time.Time) error { return nil }

// sysEpollPwait2 is epoll_pwait2's number, the same in the generic table (arm64) and on
// amd64.
const sysEpollPwait2 = 441

// epoll is an epoll instance: one per event-loop worker.
type epoll struct {
	fd     int
	events []syscall.EpollEvent
	pwait2 bool // epoll_pwait2 (ns timeouts, Linux 5.11) works here
}

func newEpoll(n int) (*epoll, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	return &epoll{fd: fd, events: make([]syscall.EpollEvent, max(64, min(n, 1024))), pwait2: true}, nil
}

func (e *epoll) add(fd int, tag int32) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: tag}
	return syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_ADD, fd, &ev)
}

func (e *epoll) del(fd int) { _ = syscall.EpollCtl(e.fd, syscall.EPOLL_CTL_DEL, fd, nil) }

// wait returns the ready events, waiting up to timeoutNs (0: none; the wait is at most
// sliceNs either way).
func (e *epoll) wait(timeoutNs int64) ([]syscall.EpollEvent, error) {
	timeoutNs = min(max(timeoutNs, 0), sliceNs)
	for {
		var n int
		var err error
		if e.pwait2 && timeoutNs > 0 {
			ts := syscall.NsecToTimespec(timeoutNs)
			r, _, errno := syscall.Syscall6(sysEpollPwait2, uintptr(e.fd),
				uintptr(unsafe.Pointer(&e.events[0])), uintptr(len(e.events)),
				uintptr(unsafe.Pointer(&ts)), 0, 0)
			n = int(r)
			if errno == syscall.ENOSYS {
				e.pwait2 = false // an older kernel: millisecond timeouts
				continue
			} else if errno != 0 {
				err = errno
			}
		} else {
			n, err = syscall.EpollWait(e.fd, e.events, int((timeoutNs+999_999)/1_000_000))
		}
		if err == syscall.EINTR {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("epoll_wait: %w", err)
		}
		return e.events[:n], nil
	}
}

func (e *epoll) close() { syscall.Close(e.fd) }

// sockaddr is the socket address of ip:port.
func sockaddr(ip net.IP, port int) (syscall.Sockaddr, int) {
	if ip4 := ip.To4(); ip4 != nil {
		s := &syscall.SockaddrInet4{Port: port}
		copy(s.Addr[:], ip4)
		return s, syscall.AF_INET
	}
	s := &syscall.SockaddrInet6{Port: port}
	copy(s.Addr[:], ip.To16())
	return s, syscall.AF_INET6
}
