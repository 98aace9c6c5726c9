package workload

import (
	"encoding/json"
	"fmt"
)

func init() {
	Register("alloc", func(raw json.RawMessage) (Workload, error) { return decodeAlloc(raw, false) })
	Register("pooled_alloc", func(raw json.RawMessage) (Workload, error) { return decodeAlloc(raw, true) })
}

// alloc allocates Count buffers of Size bytes per request and keeps LiveBytes of them
// alive in a ring, so the collector has a real heap to mark. pooled does the same work
// (same buffers cleared, same ring) from per-worker free lists, allocating nothing.
type alloc struct {
	Size      int64 `json:"size"`
	Count     int64 `json:"count"`
	LiveBytes int64 `json:"live_bytes"`
	pooled    bool
}

func (a alloc) kind() string {
	if a.pooled {
		return "pooled_alloc"
	}
	return "alloc"
}

const maxAllocBytes = 1 << 40

func decodeAlloc(raw json.RawMessage, pooled bool) (Workload, error) {
	a := alloc{pooled: pooled}
	if err := DecodeSpec(a.kind(), raw, &a); err != nil {
		return nil, err
	}
	switch {
	case a.Size < 1 || a.Size > 1<<30:
		return nil, fmt.Errorf("alloc: size must be 1..%d bytes, got %d", 1<<30, a.Size)
	case a.Count < 1 || a.Count > 1<<20:
		return nil, fmt.Errorf("alloc: count must be 1..%d, got %d", 1<<20, a.Count)
	case a.LiveBytes < 0 || a.LiveBytes > maxAllocBytes:
		return nil, fmt.Errorf("alloc: live_bytes must be 0..%d, got %d", int64(maxAllocBytes), a.LiveBytes)
	}
	return a, nil
}

// sink keeps the compiler from proving allocations dead.
var sink []byte

func (a alloc) NewWorker(id, workers int) (Request, func(), error) {
	slots := a.LiveBytes / int64(workers) / a.Size
	if slots < a.Count {
		slots = a.Count // the ring must hold at least one request's buffers
	}
	// Every buffer is written once here, in set-up: fresh heap memory is only mapped, and
	// its first touch is a page fault (on a VM possibly a host-side fault of milliseconds)
	// that would otherwise land in the measured window as the ring is first lapped.
	ring := make([][]byte, slots)
	for i := range ring {
		ring[i] = touched(make([]byte, a.Size))
	}
	next := int64(0)
	size, count := a.Size, a.Count
	closeFn := func() { ring = nil }
	if !a.pooled {
		return func() {
			for i := int64(0); i < count; i++ {
				b := make([]byte, size)
				b[0] = byte(i)
				ring[next] = b
				next++
				if next == slots {
					next = 0
				}
			}
			sink = ring[0]
		}, closeFn, nil
	}
	free := make([][]byte, count)
	for i := range free {
		free[i] = touched(make([]byte, size))
	}
	return func() {
		for i := int64(0); i < count; i++ {
			b := free[i]
			clear(b) // the work make() does when it zeroes a new buffer
			b[0] = byte(i)
			free[i], ring[next] = ring[next], b
			next++
			if next == slots {
				next = 0
			}
		}
		sink = ring[0]
	}, closeFn, nil
}

// touched writes one byte in every page of b, so the pages are resident.
func touched(b []byte) []byte {
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	return b
}
