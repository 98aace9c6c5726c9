package workload

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"unsafe"

	"golat/go_core/internal/numa"
	"golat/go_core/internal/osthread"
)

func init() { Register("memchase", decodeMemChase) }

const lineBytes = 64

// memChase follows a random cyclic chain of cache lines through a buffer of Bytes bytes,
// one dependent load after another, Hops loads per request: the load latency of the
// memory holding the buffer (caches, then DRAM, local or remote). The buffer is mmap'ed
// per worker outside the Go heap and bound to Node with mbind (Node < 0: it follows the
// worker thread's memory policy, first touch), then placement is checked page by page.
type memChase struct {
	Bytes int64  `json:"bytes"`
	Node  int    `json:"node"`
	Hops  int64  `json:"hops"`
	Seed  uint64 `json:"seed"`

	mu      *sync.Mutex
	buffers map[int][]byte
	cpus    map[int][2]int
}

func decodeMemChase(raw json.RawMessage) (Workload, error) {
	m := &memChase{Node: -1, Hops: 1000, mu: &sync.Mutex{}, buffers: map[int][]byte{}, cpus: map[int][2]int{}}
	if err := DecodeSpec("memchase", raw, m); err != nil {
		return nil, err
	}
	switch {
	case m.Bytes < 2*lineBytes || m.Bytes > 1<<40:
		return nil, fmt.Errorf("memchase: bytes must be in %d..%d, got %d", 2*lineBytes, int64(1)<<40, m.Bytes)
	case m.Node < -1 || m.Node > 1022:
		return nil, fmt.Errorf("memchase: node must be -1 (none) or 0..1022, got %d", m.Node)
	case m.Hops < 1 || m.Hops > 1e9:
		return nil, fmt.Errorf("memchase: hops must be in 1..1e9, got %d", m.Hops)
	}
	return m, nil
}

func (m *memChase) NewWorker(id, workers int) (Request, func(), error) {
	buf, free, err := numa.Alloc(int(m.Bytes))
	if err != nil {
		return nil, nop, fmt.Errorf("memchase: %w", err)
	}
	if m.Node >= 0 {
		if err := numa.Bind(buf, numa.Policy{Mode: "bind", Nodes: []int{m.Node}}); err != nil {
			free()
			return nil, nop, fmt.Errorf("memchase: placing the buffer on node %d: %w", m.Node, err)
		}
	}
	lines := int(m.Bytes / lineBytes)
	words := unsafe.Slice((*uint64)(unsafe.Pointer(&buf[0])), lines*lineBytes/8)
	// Sattolo's algorithm: a random permutation that is one cycle through every line, so
	// the chase visits the whole buffer and the prefetcher cannot guess the next line.
	order := make([]uint32, lines)
	for i := range order {
		order[i] = uint32(i)
	}
	rng := rand.New(rand.NewPCG(m.Seed, uint64(id)+1))
	for i := lines - 1; i > 0; i-- {
		j := rng.IntN(i)
		order[i], order[j] = order[j], order[i]
	}
	for i := 0; i < lines; i++ { // first touch, on the worker's thread
		words[int(order[i])*8] = uint64(order[(i+1)%lines]) * 8
	}
	order = nil
	cpu, node := osthread.GetCPU()
	m.mu.Lock()
	m.buffers[id] = buf
	m.cpus[id] = [2]int{cpu, node}
	m.mu.Unlock()
	hops := m.Hops
	var p uint64
	req := func() {
		q := p
		for i := int64(0); i < hops; i++ {
			q = words[q]
		}
		p = q
	}
	closeFn := func() {
		m.mu.Lock()
		delete(m.buffers, id)
		m.mu.Unlock()
		free()
	}
	return req, closeFn, nil
}

// Buffers is the worker's chase buffer, for the placement check.
func (m *memChase) Buffers(id int) [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.buffers[id]; ok {
		return [][]byte{b}
	}
	return nil
}

// Report says where the buffer was meant to be, where its builder ran and its address.
func (m *memChase) Report(id int) map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cpus[id]
	out := map[string]any{"bytes": m.Bytes, "hops": m.Hops, "node": m.Node,
		"built_on_cpu": c[0], "built_on_node": c[1]}
	if b, ok := m.buffers[id]; ok {
		// Where the buffer is, so other tools (numa_maps, move_pages) can check it.
		out["buffer_addr"] = uint64(uintptr(unsafe.Pointer(&b[0])))
	}
	return out
}
