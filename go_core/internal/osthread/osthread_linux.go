//go:build linux && (amd64 || arm64)

package osthread

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const (
	schedOther = 0
	schedFIFO  = 1
	schedRR    = 2
	schedBatch = 3
	schedIdle  = 5
	// schedResetOnFork may be or'ed into the policy the kernel reports.
	schedResetOnFork = 0x40000000

	rlimitRTPrio = 14 // RLIMIT_RTPRIO
	capSysNice   = 23 // CAP_SYS_NICE bit in CapEff
	cpuSetWords  = 16 // 1024 CPUs, the glibc cpu_set_t size
)

var policyNumbers = map[string]int{
	"other": schedOther, "fifo": schedFIFO, "rr": schedRR, "batch": schedBatch, "idle": schedIdle,
}

// Seams for tests: the raw calls, replaceable to fake a refusal.
var (
	setScheduler = rawSetScheduler
	getScheduler = rawGetScheduler
)

// Gettid is the calling thread's kernel id.
func Gettid() int { return syscall.Gettid() }

// mainTID is the runtime's main thread (m0): package initialisation runs there, with the
// main goroutine locked to it.
var mainTID = syscall.Gettid()

// IsMainThread reports whether the caller runs on the runtime's main thread. A goroutine
// that exits locked there does not end the thread (the runtime parks m0 forever instead),
// so code that changes a thread and relies on it dying must not use m0.
func IsMainThread() bool { return syscall.Gettid() == mainTID }

// Affinity returns the CPUs thread tid (0: the calling one) may run on, sorted.
func Affinity(tid int) ([]int, error) {
	var mask [cpuSetWords]uint64
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, uintptr(tid),
		unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if e != 0 {
		return nil, fmt.Errorf("sched_getaffinity(%d): %w", tid, e)
	}
	var cpus []int
	for w, bitsw := range mask {
		for b := 0; b < 64; b++ {
			if bitsw&(1<<b) != 0 {
				cpus = append(cpus, w*64+b)
			}
		}
	}
	return cpus, nil
}

// SetAffinity restricts thread tid (0: the calling one) to cpus. The undo restores the
// previous mask.
func SetAffinity(tid int, cpus []int) (undo func(), err error) {
	if len(cpus) == 0 {
		return nop, fmt.Errorf("sched_setaffinity: no CPUs given")
	}
	prev, err := Affinity(tid)
	if err != nil {
		return nop, err
	}
	if err := setAffinity(tid, cpus); err != nil {
		return nop, err
	}
	return func() { _ = setAffinity(tid, prev) }, nil
}

func setAffinity(tid int, cpus []int) error {
	var mask [cpuSetWords]uint64
	for _, c := range cpus {
		if c < 0 || c >= cpuSetWords*64 {
			return fmt.Errorf("sched_setaffinity: CPU %d out of range 0..%d", c, cpuSetWords*64-1)
		}
		mask[c/64] |= 1 << (c % 64)
	}
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid),
		unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask)))
	if e != 0 {
		if e == syscall.EINVAL {
			return fmt.Errorf("sched_setaffinity(%d, %v): no CPU of the set is allowed "+
				"(cpuset or offline): %w", tid, cpus, e)
		}
		return fmt.Errorf("sched_setaffinity(%d, %v): %w", tid, cpus, e)
	}
	return nil
}

// GetPolicy reads thread tid's scheduling policy and priority.
func GetPolicy(tid int) (Policy, error) {
	pol, prio, e := getScheduler(tid)
	if e != 0 {
		return Policy{}, fmt.Errorf("sched_getscheduler(%d): %w", tid, e)
	}
	for name, n := range policyNumbers {
		if n == pol&^schedResetOnFork {
			return Policy{Name: name, Priority: prio}, nil
		}
	}
	return Policy{Name: strconv.Itoa(pol), Priority: prio}, nil
}

// SetPolicy sets thread tid's scheduling policy. Real-time policies need CAP_SYS_NICE or
// an RLIMIT_RTPRIO at least as high as the priority; a refusal is a *PermissionError
// saying which. The undo restores the previous policy and priority.
func SetPolicy(tid int, p Policy) (undo func(), err error) {
	num, ok := policyNumbers[p.Name]
	if !ok {
		return nop, fmt.Errorf("scheduling policy %q unknown (allowed: other, fifo, rr, batch, idle)", p.Name)
	}
	rt := num == schedFIFO || num == schedRR
	if rt && (p.Priority < 1 || p.Priority > 99) {
		return nop, fmt.Errorf("%s priority must be 1..99, got %d", p.Name, p.Priority)
	}
	if !rt && p.Priority != 0 {
		return nop, fmt.Errorf("%s takes priority 0, got %d", p.Name, p.Priority)
	}
	prevPol, prevPrio, e := getScheduler(tid)
	if e != 0 {
		return nop, fmt.Errorf("sched_getscheduler(%d): %w", tid, e)
	}
	if e := setScheduler(tid, num, p.Priority); e != 0 {
		if e == syscall.EPERM {
			return nop, &PermissionError{
				Op: fmt.Sprintf("sched_setscheduler(%s)", p), Err: e, Hint: rtHint(p.Priority),
			}
		}
		return nop, fmt.Errorf("sched_setscheduler(%d, %s): %w", tid, p, e)
	}
	return func() { setScheduler(tid, prevPol, prevPrio) }, nil
}

// rtHint says what this process lacks to use a real-time priority.
func rtHint(prio int) string {
	var lim syscall.Rlimit
	rl := "unknown"
	if syscall.Getrlimit(rlimitRTPrio, &lim) == nil {
		rl = strconv.FormatUint(lim.Cur, 10)
	}
	capState := "unknown"
	if has, ok := hasCapSysNice(); ok {
		capState = map[bool]string{true: "present", false: "missing"}[has]
	}
	return fmt.Sprintf("real-time priority %d needs CAP_SYS_NICE (here: %s) or RLIMIT_RTPRIO >= %d "+
		"(here: %s; raise it with `ulimit -r %d` or limits.conf rtprio); in a container add "+
		"--cap-add=SYS_NICE, and with RT group scheduling the cgroup needs a cpu.rt_runtime_us budget",
		prio, capState, prio, rl, prio)
}

func hasCapSysNice() (has, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(line, "CapEff:"); found {
			bitsv, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, false
			}
			return bitsv&(1<<capSysNice) != 0, true
		}
	}
	return false, false
}

func rawSetScheduler(tid, policy, prio int) syscall.Errno {
	param := int32(prio)
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), uintptr(policy),
		uintptr(unsafe.Pointer(&param)))
	return e
}

func rawGetScheduler(tid int) (policy, prio int, e syscall.Errno) {
	r, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETSCHEDULER, uintptr(tid), 0, 0)
	if e != 0 {
		return 0, 0, e
	}
	var param int32
	_, _, e = syscall.RawSyscall(syscall.SYS_SCHED_GETPARAM, uintptr(tid), uintptr(unsafe.Pointer(&param)), 0)
	return int(r), int(param), e
}

// GetCPU returns the CPU and NUMA node the calling thread is running on right now
// (getcpu(2); a raw system call, ~0.1 µs, so callers sample it).
func GetCPU() (cpu, node int) {
	var c, n uint32
	_, _, e := syscall.RawSyscall(sysGetcpu, uintptr(unsafe.Pointer(&c)), uintptr(unsafe.Pointer(&n)), 0)
	if e != 0 {
		return -1, -1
	}
	return int(c), int(n)
}

const (
	mclCurrent = 1
	mclFuture  = 2
)

// Mlockall locks the process's current and future pages in memory (process-wide). The
// undo unlocks them, unless memory was already locked before (VmLck > 0): then the undo
// leaves it, so a caller's own lock is never removed.
func Mlockall() (undo func(), err error) {
	before := LockedBytes()
	_, _, e := syscall.RawSyscall(syscall.SYS_MLOCKALL, mclCurrent|mclFuture, 0, 0)
	if e != 0 {
		if e == syscall.EPERM || e == syscall.ENOMEM {
			return nop, &PermissionError{Op: "mlockall", Err: e,
				Hint: "locking memory needs CAP_IPC_LOCK or an RLIMIT_MEMLOCK (ulimit -l) as large as the process"}
		}
		return nop, fmt.Errorf("mlockall: %w", e)
	}
	if before > 0 {
		return nop, nil
	}
	return func() { syscall.RawSyscall(syscall.SYS_MUNLOCKALL, 0, 0, 0) }, nil
}

// LockedBytes is the process's locked memory (VmLck of /proc/self/status), -1 if unknown.
func LockedBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(line, "VmLck:"); found {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	return -1
}
