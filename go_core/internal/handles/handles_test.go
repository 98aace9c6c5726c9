package handles

import (
	"sync"
	"testing"
)

func TestAddGetTake(t *testing.T) {
	var tb Table[string]
	a, b := tb.Add("a"), tb.Add("b")
	if a == b || a == 0 || b == 0 {
		t.Fatalf("handles %d and %d: want distinct and non-zero", a, b)
	}
	if v, ok := tb.Get(a); !ok || v != "a" {
		t.Fatalf("Get(%d) = %q, %v", a, v, ok)
	}
	if _, ok := tb.Take(a); !ok {
		t.Fatal("Take of a live handle failed")
	}
	if _, ok := tb.Get(a); ok {
		t.Fatal("a taken handle is still found")
	}
	if c := tb.Add("c"); c == a {
		t.Fatalf("handle %d reused", c)
	}
}

func TestConcurrentTakeGivesOneOwner(t *testing.T) {
	var tb Table[int]
	h := tb.Add(7)
	var wg sync.WaitGroup
	var mu sync.Mutex
	owners := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := tb.Take(h); ok {
				mu.Lock()
				owners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if owners != 1 {
		t.Fatalf("%d goroutines took one handle; want 1", owners)
	}
}
