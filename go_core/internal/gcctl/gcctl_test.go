package gcctl

import (
	"runtime"
	"testing"
)

func TestApplyUndoRestores(t *testing.T) {
	p0, l0 := Percent(), SetMemoryLimit(-1)
	off, lim := Off, int64(1<<30)
	undo := Apply(Settings{Percent: &off, MemoryLimit: &lim})
	if Percent() != Off || SetMemoryLimit(-1) != lim {
		t.Fatalf("Apply did not set: percent %d limit %d", Percent(), SetMemoryLimit(-1))
	}
	undo()
	if Percent() != p0 || SetMemoryLimit(-1) != l0 {
		t.Fatalf("undo left percent %d limit %d, want %d %d", Percent(), SetMemoryLimit(-1), p0, l0)
	}
	Apply(Settings{})() // nothing to undo is fine
}

func TestSnapshotCountsAForcedGC(t *testing.T) {
	before := Read()
	runtime.GC()
	after := Read()
	if after.GCCycles <= before.GCCycles || after.GCForced <= before.GCForced {
		t.Fatalf("cycles %d->%d forced %d->%d: a runtime.GC() must show", before.GCCycles,
			after.GCCycles, before.GCForced, after.GCForced)
	}
	d := after.GCPauses.Sub(before.GCPauses)
	var n uint64
	for _, c := range d.Counts {
		n += c
	}
	if n == 0 {
		t.Fatal("the forced GC's pauses are not in the pause histogram difference")
	}
	if len(PausesBetween(before.TakenNs, after.TakenNs)) == 0 {
		t.Fatal("PausesBetween found no pause for the forced GC")
	}
}
