// Package numa places memory on NUMA nodes with raw system calls: a thread's memory
// policy (set_mempolicy), a buffer's policy (mbind), and where a buffer's pages really are
// (move_pages in query mode). Buffers golat places are mmap'ed outside the Go heap, so
// their pages belong to one worker and can be bound and checked page by page.
package numa

import (
	"errors"
	"fmt"
	"sort"
)

// ErrUnsupported is returned where the calls do not exist (not Linux on amd64/arm64).
var ErrUnsupported = errors.New("numa: memory policies need Linux on amd64 or arm64")

// Policy is a memory policy: Mode "default", "local", "bind", "preferred" or
// "interleave"; Nodes for bind, preferred and interleave.
type Policy struct {
	Mode  string `json:"mode"`
	Nodes []int  `json:"nodes,omitempty"`
}

func (p Policy) String() string {
	if len(p.Nodes) == 0 {
		return p.Mode
	}
	return fmt.Sprintf("%s:%v", p.Mode, p.Nodes)
}

// Placement counts a buffer's pages by node. Missing counts pages not yet backed (never
// touched, or swapped out).
type Placement struct {
	Pages   int64         `json:"pages"`
	Missing int64         `json:"missing"`
	ByNode  map[int]int64 `json:"by_node"`
	Sampled bool          `json:"sampled"` // true when only every Stride-th page was asked
	Stride  int64         `json:"stride"`
}

// Add merges another placement's counts.
func (p *Placement) Add(o Placement) {
	if p.ByNode == nil {
		p.ByNode = map[int]int64{}
	}
	p.Pages += o.Pages
	p.Missing += o.Missing
	for n, c := range o.ByNode {
		p.ByNode[n] += c
	}
	p.Sampled = p.Sampled || o.Sampled
	p.Stride = max(p.Stride, o.Stride)
}

// Shares is the fraction of the located pages on each node, by node id.
func (p Placement) Shares() map[int]float64 {
	var total int64
	for _, c := range p.ByNode {
		total += c
	}
	out := map[int]float64{}
	for n, c := range p.ByNode {
		if total > 0 {
			out[n] = float64(c) / float64(total)
		}
	}
	return out
}

// Nodes lists the node ids holding pages, sorted.
func (p Placement) Nodes() []int {
	var ids []int
	for n := range p.ByNode {
		ids = append(ids, n)
	}
	sort.Ints(ids)
	return ids
}

func nop() {}
