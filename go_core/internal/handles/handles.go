// Package handles keeps the core's live objects (runs, pools, servers) between the export
// that makes one and the export that frees it. Python holds only the integer handle; one
// Table per kind, all locked the same way.
package handles

import "sync"

// Table maps handles (1, 2, ...; never reused while the library is loaded) to objects.
type Table[T any] struct {
	mu    sync.Mutex
	items map[int64]T
	last  int64
}

// Add keeps v and returns its handle.
func (t *Table[T]) Add(v T) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.items == nil {
		t.items = map[int64]T{}
	}
	t.last++
	t.items[t.last] = v
	return t.last
}

// Get returns the object of handle h, or false when there is none (freed, or never made).
func (t *Table[T]) Get(h int64) (T, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.items[h]
	return v, ok
}

// Take removes handle h and returns its object: exactly one caller gets it, so two
// concurrent frees of one handle close it once.
func (t *Table[T]) Take(h int64) (T, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.items[h]
	delete(t.items, h)
	return v, ok
}

// Each calls f for a snapshot of the objects, outside the lock (f may block).
func (t *Table[T]) Each(f func(T)) {
	t.mu.Lock()
	vs := make([]T, 0, len(t.items))
	for _, v := range t.items {
		vs = append(vs, v)
	}
	t.mu.Unlock()
	for _, v := range vs {
		f(v)
	}
}
