//go:build linux && (amd64 || arm64)

package osthread

import (
	"errors"
	"os"
	"strconv"
	"syscall"
)

// tasks lists the process's threads (/proc/self/task).
func tasks() ([]int, error) {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// PinProcess restricts every thread of the process to cpus, as taskset does for a whole
// process: the Go runtime's threads cannot be told from the caller's, and threads created
// later inherit the mask of the thread that creates them. The undo gives each thread that
// was there its previous mask back, and threads started meanwhile the process's (the
// calling process's main thread's) previous mask. A thread that ends meanwhile is skipped.
func PinProcess(cpus []int) (undo func(), err error) {
	if len(cpus) == 0 {
		return nop, errors.New("sched_setaffinity: no CPUs given")
	}
	whole, err := Affinity(os.Getpid())
	if err != nil {
		return nop, err
	}
	prev := map[int][]int{}
	undo = func() {
		tids, _ := tasks()
		for _, tid := range tids {
			mask, ok := prev[tid]
			if !ok {
				mask = whole
			}
			_ = setAffinity(tid, mask)
		}
	}
	// Threads may start while the list is walked: walk until a pass finds no new one.
	for pass := 0; pass < 10; pass++ {
		tids, err := tasks()
		if err != nil {
			undo()
			return nop, err
		}
		fresh := 0
		for _, tid := range tids {
			if _, done := prev[tid]; done {
				continue
			}
			mask, err := Affinity(tid)
			if errors.Is(err, syscall.ESRCH) {
				continue // it ended
			}
			if err != nil {
				undo()
				return nop, err
			}
			if err := setAffinity(tid, cpus); err != nil {
				if errors.Is(err, syscall.ESRCH) {
					continue
				}
				undo()
				return nop, err
			}
			prev[tid] = mask
			fresh++
		}
		if fresh == 0 {
			break
		}
	}
	return undo, nil
}
