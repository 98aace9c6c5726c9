package httpload

import (
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"
)

// fdConn is a blocking TCP socket; read and write are plain system calls (SO_RCVTIMEO
// and SO_SNDTIMEO bound each one by the request timeout).
type fdConn struct{ fd int }

func (c fdConn) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Read(c.fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read: %v", timeoutErr(err))
		}
		if n == 0 {
			return 0, fmt.Errorf("read: connection closed by the server")
		}
		return n, nil
	}
}

func (c fdConn) Write(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		n, err := syscall.Write(c.fd, p[done:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("write: %v", timeoutErr(err))
		}
		done += n
	}
	return done, nil
}

func (c fdConn) Close() error { return syscall.Close(c.fd) }

func timeoutErr(err error) error {
	if err == syscall.EAGAIN {
		return fmt.Errorf("timed out")
	}
	return err
}

// dialBlocking connects a blocking socket to addr (a loopback host:port, checked at
// decode time), with TCP_NODELAY and both timeouts set.
func dialBlocking(addr string, timeout time.Duration) (fdConn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fdConn{}, err
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ip := net.ParseIP(host)
	p, err := strconv.Atoi(port)
	if ip == nil || err != nil {
		return fdConn{}, fmt.Errorf("address %q is not ip:port", addr)
	}
	var sa syscall.Sockaddr
	family := syscall.AF_INET
	if ip4 := ip.To4(); ip4 != nil {
		s := &syscall.SockaddrInet4{Port: p}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		family = syscall.AF_INET6
		s := &syscall.SockaddrInet6{Port: p}
		copy(s.Addr[:], ip.To16())
		sa = s
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fdConn{}, err
	}
	tv := syscall.NsecToTimeval(timeout.Nanoseconds())
	for _, e := range []error{
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1),
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv),
		syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv),
	} {
		if e != nil {
			syscall.Close(fd)
			return fdConn{}, e
		}
	}
	for {
		err = syscall.Connect(fd, sa)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		syscall.Close(fd)
		return fdConn{}, err
	}
	return fdConn{fd}, nil
}
