// Package tail keeps a run's slowest requests and the facts that explain them: which
// requests (top K per worker, and every one above a threshold, bounded), what the GC did
// while they ran (pauses, mark phases, managed collections), injected stalls, and what
// the kernel did to the worker's thread (involuntary switches, page faults).
//
// The request path pays one comparison (Keeper.Slow); everything else happens for the
// few requests that enter the record, or after the run.
package tail

// MaxOverThreshold bounds the requests above the threshold one worker keeps; past it they
// are counted (Keeper.Dropped) and the top K still holds the slowest.
const MaxOverThreshold = 10_000

// Rec is one slow request as its worker saw it. Times are clock ns.
type Rec struct {
	Intended, Start, End int64
	// Queued: due while the worker was still busy; BacklogFrom is the intended start of
	// the request that began the backlog (the first of the chain that was not queued):
	// from then on the worker was late or busy.
	Queued      bool
	BacklogFrom int64
	// PrevEnd is when the worker's previous request ended (0: none): a queued request
	// waited behind it until then, and for the rest the worker was not running it.
	PrevEnd int64
	// Thread counters over [CountersFrom, End] (-1: unknown, e.g. not a locked thread).
	Switches, MinorFaults, MajorFaults int64
	CountersFrom                       int64
}

func (r *Rec) latency() int64 { return r.End - r.Intended }

// Keeper is one worker's record: a min-heap of its K slowest requests, plus those at or
// above the threshold. Not for concurrent use (its worker owns it).
type Keeper struct {
	k         int
	threshold int64 // 0: none
	heap      []Rec
	over      []Rec
	dropped   int64
	floor     int64 // a request slower than this enters the record
}

// NewKeeper keeps the k slowest requests and, when thresholdNs > 0, every request whose
// latency is at least thresholdNs (up to MaxOverThreshold).
func NewKeeper(k int, thresholdNs int64) *Keeper {
	kp := &Keeper{k: k, threshold: thresholdNs, heap: make([]Rec, 0, k)}
	kp.setFloor()
	return kp
}

// Slow says whether a request of this latency enters the record: the only call on the
// request path. A nil Keeper keeps nothing.
func (kp *Keeper) Slow(latencyNs int64) bool { return kp != nil && latencyNs > kp.floor }

func (kp *Keeper) setFloor() {
	switch {
	case kp.k == 0 && kp.threshold == 0:
		kp.floor = 1<<63 - 1
	case len(kp.heap) < kp.k:
		kp.floor = -1
	case kp.k == 0:
		kp.floor = kp.threshold - 1
	default:
		kp.floor = kp.heap[0].latency()
		if kp.threshold > 0 {
			kp.floor = min(kp.floor, kp.threshold-1)
		}
	}
}

// Add records a request Slow let through.
func (kp *Keeper) Add(r Rec) {
	lat := r.latency()
	if kp.threshold > 0 && lat >= kp.threshold {
		if len(kp.over) < MaxOverThreshold {
			kp.over = append(kp.over, r)
		} else {
			kp.dropped++
		}
	}
	switch {
	case kp.k == 0:
	case len(kp.heap) < kp.k:
		kp.heap = append(kp.heap, r)
		kp.up(len(kp.heap) - 1)
	case lat > kp.heap[0].latency():
		kp.heap[0] = r
		kp.down(0)
	}
	kp.setFloor()
}

func (kp *Keeper) up(i int) {
	h := kp.heap
	for i > 0 {
		p := (i - 1) / 2
		if h[p].latency() <= h[i].latency() {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (kp *Keeper) down(i int) {
	h := kp.heap
	for {
		l, s := 2*i+1, i
		if l < len(h) && h[l].latency() < h[s].latency() {
			s = l
		}
		if r := l + 1; r < len(h) && h[r].latency() < h[s].latency() {
			s = r
		}
		if s == i {
			return
		}
		h[s], h[i] = h[i], h[s]
		i = s
	}
}

// Records returns the kept requests, the top K and those above the threshold, each once.
func (kp *Keeper) Records() []Rec {
	if kp == nil {
		return nil
	}
	out := append([]Rec(nil), kp.over...)
	seen := make(map[[2]int64]bool, len(out))
	for _, r := range out {
		seen[[2]int64{r.Intended, r.Start}] = true
	}
	for _, r := range kp.heap {
		if !seen[[2]int64{r.Intended, r.Start}] {
			out = append(out, r)
		}
	}
	return out
}

// Dropped counts requests above the threshold left out once MaxOverThreshold were kept.
func (kp *Keeper) Dropped() int64 {
	if kp == nil {
		return 0
	}
	return kp.dropped
}
