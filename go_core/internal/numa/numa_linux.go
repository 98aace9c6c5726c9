//go:build linux && (amd64 || arm64)

package numa

import (
	"fmt"
	"syscall"
	"unsafe"
)

const (
	mpolDefault    = 0
	mpolPreferred  = 1
	mpolBind       = 2
	mpolInterleave = 3
	mpolLocal      = 4

	mpolMFStrict = 1 << 0
	mpolMFMove   = 1 << 1

	maskWords = 16 // 1024 nodes, far above any machine's
	maxNode   = maskWords * 64
	// queryBatch pages per move_pages call; maxQuery pages asked per buffer at most
	// (larger buffers are sampled at a stride).
	queryBatch = 4096
	maxQuery   = 1 << 18
)

var modes = map[string]int{
	"default": mpolDefault, "preferred": mpolPreferred, "bind": mpolBind,
	"interleave": mpolInterleave, "local": mpolLocal,
}

type nodeMask [maskWords]uint64

func maskOf(p Policy) (mode int, mask nodeMask, err error) {
	mode, ok := modes[p.Mode]
	if !ok {
		return 0, mask, fmt.Errorf("memory policy %q unknown (allowed: default, local, bind, preferred, interleave)", p.Mode)
	}
	needs := mode == mpolBind || mode == mpolInterleave || mode == mpolPreferred
	if needs && len(p.Nodes) == 0 {
		return 0, mask, fmt.Errorf("memory policy %q needs at least one node", p.Mode)
	}
	if !needs && len(p.Nodes) > 0 {
		return 0, mask, fmt.Errorf("memory policy %q takes no nodes, got %v", p.Mode, p.Nodes)
	}
	for _, n := range p.Nodes {
		if n < 0 || n >= maxNode-1 {
			return 0, mask, fmt.Errorf("NUMA node %d out of range 0..%d", n, maxNode-2)
		}
		mask[n/64] |= 1 << (n % 64)
	}
	return mode, mask, nil
}

func (m *nodeMask) nodes() []int {
	var out []int
	for w, bitsw := range m {
		for b := 0; b < 64; b++ {
			if bitsw&(1<<b) != 0 {
				out = append(out, w*64+b)
			}
		}
	}
	return out
}

func ptr(m *nodeMask, mode int) uintptr {
	if mode == mpolDefault || mode == mpolLocal {
		return 0
	}
	return uintptr(unsafe.Pointer(m))
}

// ThreadPolicy reads the calling thread's memory policy.
func ThreadPolicy() (Policy, error) {
	var mode int32
	var mask nodeMask
	_, _, e := syscall.RawSyscall6(sysGetMempolicy, uintptr(unsafe.Pointer(&mode)),
		uintptr(unsafe.Pointer(&mask)), maxNode, 0, 0, 0)
	if e != 0 {
		return Policy{}, fmt.Errorf("get_mempolicy: %w", e)
	}
	m := int(mode) & 0xffff // drop MPOL_F_* mode flags
	for name, n := range modes {
		if n == m {
			p := Policy{Mode: name}
			if m == mpolBind || m == mpolInterleave || m == mpolPreferred {
				p.Nodes = mask.nodes()
			}
			return p, nil
		}
	}
	return Policy{Mode: fmt.Sprint(m), Nodes: mask.nodes()}, nil
}

// SetThreadPolicy sets the calling thread's memory policy (it applies to pages the thread
// faults in from now on). The caller must be locked to its thread. The undo restores the
// previous policy.
func SetThreadPolicy(p Policy) (undo func(), err error) {
	mode, mask, err := maskOf(p)
	if err != nil {
		return nop, err
	}
	prev, err := ThreadPolicy()
	if err != nil {
		return nop, err
	}
	if err := setThread(mode, &mask); err != nil {
		return nop, fmt.Errorf("set_mempolicy(%s): %w", p, err)
	}
	return func() {
		if pm, pmask, err := maskOf(prev); err == nil {
			_ = setThread(pm, &pmask)
		}
	}, nil
}

func setThread(mode int, mask *nodeMask) error {
	_, _, e := syscall.RawSyscall(sysSetMempolicy, uintptr(mode), ptr(mask, mode), maxNode)
	if e != 0 {
		return e
	}
	return nil
}

// hugePage is the transparent huge page size on amd64 and arm64 (4 KiB base pages).
const hugePage = 2 << 20

// Alloc maps size bytes of anonymous memory outside the Go heap, page aligned, and
// aligned to 2 MiB when size is at least that: transparent huge pages then cover the
// buffer whole, so a policy that works page by page (interleave) places it evenly,
// instead of huge pages in the middle and base pages at unaligned ends. The undo unmaps
// it; the memory must not be used afterwards.
func Alloc(size int) (buf []byte, free func(), err error) {
	if size <= 0 {
		return nil, nop, fmt.Errorf("numa.Alloc: size must be > 0, got %d", size)
	}
	span := size
	if size >= hugePage {
		span = size + hugePage
	}
	// syscall.Mmap, not a raw call, so the pointer comes from Go; only the part kept is
	// unmapped later, by address (syscall.Munmap wants the whole mapping back).
	whole, err := syscall.Mmap(-1, 0, span, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil, nop, fmt.Errorf("mmap %d bytes: %w", size, err)
	}
	base := uintptr(unsafe.Pointer(&whole[0]))
	off := uintptr(0)
	if span > size {
		off = (base+hugePage-1)&^(hugePage-1) - base
		munmap(base, off)
		munmap(base+off+uintptr(size), uintptr(span)-off-uintptr(size))
	}
	b := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(&whole[0]), off)), size)
	start := base + off
	return b, func() { munmap(start, uintptr(size)) }, nil
}

func munmap(addr, n uintptr) {
	if n > 0 {
		_, _, _ = syscall.Syscall(syscall.SYS_MUNMAP, addr, n, 0)
	}
}

// Bind sets buf's memory policy (mbind, moving pages already there) before it is touched.
// buf must be page aligned, as Alloc's buffers are.
func Bind(buf []byte, p Policy) error {
	mode, mask, err := maskOf(p)
	if err != nil {
		return err
	}
	if len(buf) == 0 {
		return nil
	}
	_, _, e := syscall.Syscall6(sysMbind, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
		uintptr(mode), ptr(&mask, mode), maxNode, mpolMFStrict|mpolMFMove)
	if e != 0 {
		if e == syscall.EINVAL {
			return fmt.Errorf("mbind(%s): %w (a node without memory, or outside this cpuset's mems?)", p, e)
		}
		return fmt.Errorf("mbind(%s): %w", p, e)
	}
	return nil
}

// Locate asks the kernel which node holds each page of buf (move_pages with no target
// nodes only queries). Buffers of more than maxQuery pages are sampled at a stride.
func Locate(buf []byte) (Placement, error) {
	pl := Placement{ByNode: map[int]int64{}, Stride: 1}
	page := syscall.Getpagesize()
	if len(buf) == 0 {
		return pl, nil
	}
	base := uintptr(unsafe.Pointer(&buf[0])) &^ uintptr(page-1)
	end := uintptr(unsafe.Pointer(&buf[0])) + uintptr(len(buf))
	npages := int64((end - base + uintptr(page) - 1) / uintptr(page))
	stride := max(int64(1), (npages+maxQuery-1)/maxQuery)
	pl.Stride, pl.Sampled = stride, stride > 1
	addrs := make([]uintptr, 0, queryBatch)
	status := make([]int32, queryBatch)
	flush := func() error {
		if len(addrs) == 0 {
			return nil
		}
		_, _, e := syscall.Syscall6(sysMovePages, 0, uintptr(len(addrs)),
			uintptr(unsafe.Pointer(&addrs[0])), 0, uintptr(unsafe.Pointer(&status[0])), 0)
		if e != 0 {
			return fmt.Errorf("move_pages (query): %w", e)
		}
		for _, s := range status[:len(addrs)] {
			pl.Pages++
			if s < 0 {
				pl.Missing++
			} else {
				pl.ByNode[int(s)]++
			}
		}
		addrs = addrs[:0]
		return nil
	}
	for i := int64(0); i < npages; i += stride {
		addrs = append(addrs, base+uintptr(i)*uintptr(page))
		if len(addrs) == queryBatch {
			if err := flush(); err != nil {
				return pl, err
			}
		}
	}
	return pl, flush()
}
