//go:build linux && (amd64 || arm64)

package threadstat

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const (
	perfTypeHardware = 0
	perfTypeSoftware = 1

	perfCountHWCacheMisses  = 3
	perfCountSWMigrations   = 4
	perfCountSWPageFaultMin = 5
	perfCountSWPageFaultMaj = 6

	perfFlagFDCloexec = 1 << 3
	attrExcludeKernel = 1 << 5
	attrExcludeHV     = 1 << 6
)

// perfAttr is struct perf_event_attr up to config1 (PERF_ATTR_SIZE_VER0, 64 bytes).
type perfAttr struct {
	Type         uint32
	Size         uint32
	Config       uint64
	SamplePeriod uint64
	SampleType   uint64
	ReadFormat   uint64
	Flags        uint64
	WakeupEvents uint32
	BPType       uint32
	Config1      uint64
}

// Thread reads one thread's counters. Open it for a tid; Close it when done.
type Thread struct {
	tid    int
	perf   bool
	migr   int // perf fds, -1 when not open
	minflt int
	majflt int
	cache  int
	procFn string // root of /proc files, a test seam
}

// Open prepares counters for thread tid of this process, preferring perf events.
func Open(tid int) *Thread {
	t := &Thread{tid: tid, migr: -1, minflt: -1, majflt: -1, cache: -1, procFn: "/proc/self/task"}
	if !disablePerf {
		t.migr = openPerf(tid, perfTypeSoftware, perfCountSWMigrations)
		t.minflt = openPerf(tid, perfTypeSoftware, perfCountSWPageFaultMin)
		t.majflt = openPerf(tid, perfTypeSoftware, perfCountSWPageFaultMaj)
		t.perf = t.migr >= 0 && t.minflt >= 0 && t.majflt >= 0
		if t.perf {
			t.cache = openPerf(tid, perfTypeHardware, perfCountHWCacheMisses)
		}
	}
	if !t.perf {
		t.Close()
		t.migr, t.minflt, t.majflt, t.cache = -1, -1, -1, -1
	}
	return t
}

// disablePerf forces the /proc fallback (a test seam).
var disablePerf = false

func openPerf(tid int, typ uint32, config uint64) int {
	for _, flags := range []uint64{0, attrExcludeKernel | attrExcludeHV} {
		a := perfAttr{Type: typ, Size: uint32(unsafe.Sizeof(perfAttr{})), Config: config, Flags: flags}
		fd, _, e := syscall.Syscall6(syscall.SYS_PERF_EVENT_OPEN, uintptr(unsafe.Pointer(&a)),
			uintptr(tid), ^uintptr(0), ^uintptr(0), perfFlagFDCloexec, 0)
		if e == 0 {
			return int(fd)
		}
		if e != syscall.EACCES && e != syscall.EPERM {
			return -1 // ENOENT/EOPNOTSUPP: no such counter here (a VM without a PMU)
		}
	}
	return -1
}

func readPerf(fd int) int64 {
	if fd < 0 {
		return -1
	}
	var b [8]byte
	if n, err := syscall.Read(fd, b[:]); err != nil || n != 8 {
		return -1
	}
	return int64(binary.LittleEndian.Uint64(b[:]))
}

// Read takes a snapshot. Context switches always come from /proc (perf does not split
// them into voluntary and involuntary).
func (t *Thread) Read() (Counters, error) {
	c := Counters{Source: SourceProc, Migrations: -1, MinorFaults: -1, MajorFaults: -1, CacheMisses: -1}
	dir := fmt.Sprintf("%s/%d", t.procFn, t.tid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return c, fmt.Errorf("thread %d: %w", t.tid, err)
	}
	c.VoluntarySwitches = field(string(status), "voluntary_ctxt_switches:")
	c.InvoluntarySwitch = field(string(status), "nonvoluntary_ctxt_switches:")
	if t.perf {
		c.Source = SourcePerf
		c.Migrations, c.MinorFaults, c.MajorFaults = readPerf(t.migr), readPerf(t.minflt), readPerf(t.majflt)
		c.CacheMisses = readPerf(t.cache)
		return c, nil
	}
	if stat, err := os.ReadFile(dir + "/stat"); err == nil {
		c.MinorFaults, c.MajorFaults = faults(string(stat))
	}
	if sched, err := os.ReadFile(dir + "/sched"); err == nil {
		c.Migrations = field(string(sched), "se.nr_migrations")
	}
	return c, nil
}

// Close releases the perf events.
func (t *Thread) Close() {
	for _, fd := range []int{t.migr, t.minflt, t.majflt, t.cache} {
		if fd >= 0 {
			syscall.Close(fd)
		}
	}
	t.migr, t.minflt, t.majflt, t.cache = -1, -1, -1, -1
}

// field finds "key ... value" on one line of a /proc text and returns value, or -1.
func field(text, key string) int64 {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(strings.TrimLeft(rest, " \t:"))
			if len(f) > 0 {
				if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

// faults reads minflt and majflt (fields 10 and 12) of a /proc/TID/stat line; the
// command name in parentheses may hold spaces, so fields count from its closing ")".
func faults(stat string) (minor, major int64) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return -1, -1
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state)
	if len(f) < 10 {
		return -1, -1
	}
	minor, err1 := strconv.ParseInt(f[7], 10, 64)
	major, err2 := strconv.ParseInt(f[9], 10, 64)
	if err1 != nil || err2 != nil {
		return -1, -1
	}
	return minor, major
}

// TLBShootdowns sums the TLB line of /proc/interrupts over all CPUs (-1 if absent: not
// x86, or hidden).
func TLBShootdowns() int64 { return tlbFrom("/proc/interrupts") }

func tlbFrom(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "TLB:")
		if !ok {
			continue
		}
		var sum int64
		for _, f := range strings.Fields(rest) {
			v, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				break // the description ("TLB shootdowns") follows the counts
			}
			sum += v
		}
		return sum
	}
	return -1
}

// rusageThread is RUSAGE_THREAD: getrusage for the calling thread only.
const rusageThread = 1

// Self reads the calling thread's involuntary switches and page faults with one
// getrusage(RUSAGE_THREAD) call (no file, no descriptor): cheap enough to take when a
// request turns out slow. Call it on the thread it is about (a locked goroutine).
func Self() (Usage, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return Usage{}, false
	}
	return Usage{TID: syscall.Gettid(), InvoluntarySwitches: ru.Nivcsw, MinorFaults: ru.Minflt,
		MajorFaults: ru.Majflt}, true
}
