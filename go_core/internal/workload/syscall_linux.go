package workload

import (
	"encoding/json"
	"fmt"
	"syscall"
)

func init() { Register("syscall", decodeSyscall) }

// sysWork makes one system call per request (getpid), or a 1-byte write and read
// round trip through a per-worker pipe (pipe).
type sysWork struct {
	Syscall string `json:"syscall"`
}

func decodeSyscall(raw json.RawMessage) (Workload, error) {
	var s sysWork
	if err := DecodeSpec("syscall", raw, &s); err != nil {
		return nil, err
	}
	if s.Syscall != "getpid" && s.Syscall != "pipe" {
		return nil, fmt.Errorf("syscall: kind must be \"getpid\" or \"pipe\", got %q", s.Syscall)
	}
	return s, nil
}

func (s sysWork) NewWorker(int, int) (Request, func(), error) {
	if s.Syscall == "getpid" {
		return func() { syscall.Getpid() }, nop, nil
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC); err != nil {
		return nil, nop, fmt.Errorf("syscall pipe: %v", err)
	}
	buf := make([]byte, 1)
	req := func() {
		// A failed write or read is a broken harness, not a slow request.
		if _, err := syscall.Write(fds[1], buf); err != nil {
			panic(fmt.Sprintf("pipe write: %v", err))
		}
		if _, err := syscall.Read(fds[0], buf); err != nil {
			panic(fmt.Sprintf("pipe read: %v", err))
		}
	}
	return req, func() { syscall.Close(fds[0]); syscall.Close(fds[1]) }, nil
}
