package tail

import (
	"math/rand/v2"
	"sort"
	"testing"
)

func rec(intended, lat int64) Rec {
	return Rec{Intended: intended, Start: intended, End: intended + lat, Switches: -1}
}

// The keeper holds exactly the K slowest, and every request at or above the threshold.
func TestKeeperTopKAndThreshold(t *testing.T) {
	for _, tc := range []struct {
		name      string
		k         int
		threshold int64
	}{{"topk", 10, 0}, {"threshold", 0, 900}, {"both", 5, 950}, {"none", 0, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			kp := NewKeeper(tc.k, tc.threshold)
			rng := rand.New(rand.NewPCG(1, 2))
			var all []int64
			for i := int64(0); i < 5000; i++ {
				lat := rng.Int64N(1000)
				all = append(all, lat)
				if kp.Slow(lat) {
					kp.Add(rec(i*1000, lat))
				}
			}
			sort.Slice(all, func(i, j int) bool { return all[i] > all[j] })
			want := map[int64]int{}
			for i, v := range all {
				if i < tc.k || (tc.threshold > 0 && v >= tc.threshold) {
					want[v]++
				}
			}
			got := map[int64]int{}
			for _, r := range kp.Records() {
				got[r.latency()]++
			}
			// Ties at the K-th value may be kept either way: compare counts above it.
			for v, n := range want {
				if got[v] != n && !(tc.k > 0 && v == all[tc.k-1]) {
					t.Errorf("latency %d: kept %d, want %d", v, got[v], n)
				}
			}
			if len(got) > len(want) {
				t.Errorf("kept latencies %v, want %v", got, want)
			}
		})
	}
}

func TestKeeperBoundsOverThreshold(t *testing.T) {
	kp := NewKeeper(3, 10)
	for i := int64(0); i < MaxOverThreshold+50; i++ {
		if kp.Slow(20) {
			kp.Add(rec(i*100, 20))
		}
	}
	if n := len(kp.Records()); n != MaxOverThreshold {
		t.Errorf("kept %d, want %d", n, MaxOverThreshold)
	}
	if kp.Dropped() != 50 {
		t.Errorf("dropped %d, want 50", kp.Dropped())
	}
}

func TestNilKeeperKeepsNothing(t *testing.T) {
	var kp *Keeper
	if kp.Slow(1<<40) || kp.Records() != nil {
		t.Error("a nil keeper kept something")
	}
}

func TestOverlap(t *testing.T) {
	spans := []Span{{1, 0, 10}, {2, 20, 30}, {3, 40, 45}}
	for _, tc := range []struct {
		from, to int64
		skip     map[uint64]bool
		want     int64
	}{
		{5, 25, nil, 10}, {-5, 100, nil, 25}, {10, 20, nil, 0}, {42, 43, nil, 1},
		{0, 50, map[uint64]bool{2: true}, 15}, {30, 10, nil, 0},
	} {
		if got := overlap(spans, tc.from, tc.to, tc.skip); got != tc.want {
			t.Errorf("overlap(%d, %d) = %d, want %d", tc.from, tc.to, got, tc.want)
		}
	}
}

// A queued request's backlog overlaps the stall that began it; its own span does not.
func TestAttributeQueuedBehindStall(t *testing.T) {
	f := &Facts{Origin: 1000, Stalls: [][]Span{{{From: 2000, To: 7000}}}}
	recs := []Rec{
		{Intended: 2000, Start: 2000, End: 7100, BacklogFrom: 2000, Switches: -1},
		{Intended: 2500, Start: 7100, End: 7200, Queued: true, BacklogFrom: 2000, Switches: -1},
	}
	out := Attribute(0, recs, f)
	if out[0].StallNs != 5000 || out[0].QueuedNs != 0 || out[0].BehindNs != -1 {
		t.Errorf("stalled request: %+v", out[0])
	}
	q := out[1]
	if q.QueuedNs != 4600 || q.BehindNs != 1000 || q.BehindStallNs != 5000 || q.StallNs != 0 {
		t.Errorf("queued request: %+v", q)
	}
}
