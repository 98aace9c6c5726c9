// Package hist is golat's HDR histogram of latencies in nanoseconds.
//
// The geometry is HdrHistogram's exactly (lowest discernible value 1, highest trackable value
// 1 h in ns, 2 or 3 significant figures), so the flat counts slice has the same layout as
// HdrHistogram's counts array and as golat/_histogram.py: Python copies Counts() as it is.
package hist

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

const (
	// LowestDiscernibleValue is the smallest value, in ns, told apart from 0.
	LowestDiscernibleValue = 1
	// HighestTrackableValue is the largest value that can be recorded: 1 h in ns.
	HighestTrackableValue = 3_600_000_000_000
	// DefaultPrecision is the number of significant figures golat uses unless told otherwise.
	DefaultPrecision = 2
)

// ErrPrecision is returned for a precision other than 2 or 3.
var ErrPrecision = errors.New("hist: precision must be 2 or 3 significant figures")

// Histogram counts int64 values in [0, HighestTrackableValue]. It is not safe for concurrent use.
type Histogram struct {
	precision int
	// Geometry, fixed by precision (unit magnitude is 0 because the lowest value is 1).
	subBucketHalfCountMagnitude uint
	subBucketHalfCount          int64
	subBucketMask               int64
	subBucketCount              int
	bucketCount                 int

	counts     []int64
	totalCount int64
	overflow   int64
	// Exact raw extremes of the recorded values; min is math.MaxInt64 while empty.
	min, max int64
}

type geometry struct {
	halfMagnitude uint
	subBuckets    int
	buckets       int
}

func geometryFor(precision int) (geometry, bool) {
	if precision != 2 && precision != 3 {
		return geometry{}, false
	}
	largestSingleUnit := int64(2)
	for i := 0; i < precision; i++ {
		largestSingleUnit *= 10
	}
	// ceil(log2(largestSingleUnit)), in integers.
	magnitude := uint(bits.Len64(uint64(largestSingleUnit - 1)))
	subBuckets := 1 << magnitude
	// HdrHistogram's getBucketsNeededToCoverValue.
	buckets := 1
	for untrackable := int64(subBuckets); untrackable <= HighestTrackableValue; untrackable <<= 1 {
		buckets++
	}
	return geometry{halfMagnitude: magnitude - 1, subBuckets: subBuckets, buckets: buckets}, true
}

// CountsLen is the length of Counts() for a precision, or 0 if the precision is not 2 or 3.
func CountsLen(precision int) int {
	g, ok := geometryFor(precision)
	if !ok {
		return 0
	}
	return (g.buckets + 1) * (g.subBuckets / 2)
}

// New returns an empty histogram with precision (2 or 3) significant figures.
func New(precision int) (*Histogram, error) {
	g, ok := geometryFor(precision)
	if !ok {
		return nil, fmt.Errorf("%w, got %d", ErrPrecision, precision)
	}
	return &Histogram{
		precision:                   precision,
		subBucketHalfCountMagnitude: g.halfMagnitude,
		subBucketHalfCount:          int64(g.subBuckets / 2),
		subBucketMask:               int64(g.subBuckets - 1),
		subBucketCount:              g.subBuckets,
		bucketCount:                 g.buckets,
		counts:                      make([]int64, CountsLen(precision)),
		min:                         math.MaxInt64,
	}, nil
}

// Precision is the number of significant figures (2 or 3).
func (h *Histogram) Precision() int { return h.precision }

// RecordValue counts one value in ns. It returns false, and counts the value in Overflow, when
// v is outside [0, HighestTrackableValue]. It allocates nothing.
func (h *Histogram) RecordValue(v int64) bool { return h.RecordValues(v, 1) }

// RecordValues counts value v (ns) n times. It returns false when n < 1 (nothing recorded) or
// when v is out of range (n is then added to Overflow).
func (h *Histogram) RecordValues(v, n int64) bool {
	if n < 1 {
		return false
	}
	if v < 0 || v > HighestTrackableValue {
		h.overflow += n
		return false
	}
	h.counts[h.countsIndex(v)] += n
	h.totalCount += n
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	return true
}

// Merge adds o's counts into h. Both must have the same precision.
func (h *Histogram) Merge(o *Histogram) error {
	if o.precision != h.precision {
		return fmt.Errorf("hist: cannot merge precision %d into precision %d", o.precision, h.precision)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.totalCount += o.totalCount
	h.overflow += o.overflow
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
	return nil
}

// Reset empties the histogram, keeping its precision and its counts slice.
func (h *Histogram) Reset() {
	clear(h.counts)
	h.totalCount, h.overflow, h.min, h.max = 0, 0, math.MaxInt64, 0
}

// TotalCount is the number of values recorded (out-of-range values not included).
func (h *Histogram) TotalCount() int64 { return h.totalCount }

// Overflow is the number of values refused because they were out of range.
func (h *Histogram) Overflow() int64 { return h.overflow }

// Min is the exact smallest recorded value in ns, 0 when empty.
func (h *Histogram) Min() int64 {
	if h.totalCount == 0 {
		return 0
	}
	return h.min
}

// Max is the exact largest recorded value in ns, 0 when empty. ValueAtQuantile(100) is
// HdrHistogram's max instead: the highest value equivalent to it.
func (h *Histogram) Max() int64 { return h.max }

// Counts is the flat counts slice itself (not a copy), in HdrHistogram's layout.
func (h *Histogram) Counts() []int64 { return h.counts }

// Mean in ns, from the median equivalent value of each bucket as HdrHistogram computes it.
func (h *Histogram) Mean() float64 {
	if h.totalCount == 0 {
		return 0
	}
	var sum float64
	for i, c := range h.counts {
		if c != 0 {
			sum += float64(c) * float64(h.medianEquivalentValue(i))
		}
	}
	return sum / float64(h.totalCount)
}

// StdDev in ns (population), from bucket median equivalent values as HdrHistogram computes it.
func (h *Histogram) StdDev() float64 {
	if h.totalCount == 0 {
		return 0
	}
	mean := h.Mean()
	var sum float64
	for i, c := range h.counts {
		if c != 0 {
			d := float64(h.medianEquivalentValue(i)) - mean
			sum += d * d * float64(c)
		}
	}
	return math.Sqrt(sum / float64(h.totalCount))
}

// ValueAtQuantile is the value in ns at percentile q (0..100, clamped; NaN counts as 0), as
// HdrHistogram reports it: the highest value equivalent to the bucket holding the
// ceil-rounded rank, or the lowest equivalent value for q == 0. It is 0 when empty.
func (h *Histogram) ValueAtQuantile(q float64) int64 {
	if h.totalCount == 0 {
		return 0
	}
	if !(q > 0) {
		q = 0
	}
	q = min(q, 100)
	target := max(int64(q/100*float64(h.totalCount)+0.5), 1)
	var cumulative int64
	for i, c := range h.counts {
		cumulative += c
		if cumulative >= target {
			if q == 0 {
				return h.valueFromIndex(i)
			}
			return h.highestEquivalentValue(i)
		}
	}
	return 0 // unreachable: cumulative ends at totalCount >= target
}

// countsIndex maps an in-range value to its slot, as HdrHistogram's countsArrayIndex.
func (h *Histogram) countsIndex(v int64) int {
	bucket := bits.Len64(uint64(v|h.subBucketMask)) - int(h.subBucketHalfCountMagnitude) - 1
	subBucket := v >> uint(bucket)
	return int((int64(bucket+1) << h.subBucketHalfCountMagnitude) + subBucket - h.subBucketHalfCount)
}

// bucketOf is the bucket of slot i; slots of the first half-bucket belong to bucket 0.
func (h *Histogram) bucketOf(i int) int {
	return max(i>>h.subBucketHalfCountMagnitude-1, 0)
}

// valueFromIndex is the lowest value equivalent to slot i.
func (h *Histogram) valueFromIndex(i int) int64 {
	bucket := i>>h.subBucketHalfCountMagnitude - 1
	subBucket := int64(i)&(h.subBucketHalfCount-1) + h.subBucketHalfCount
	if bucket < 0 {
		subBucket -= h.subBucketHalfCount
		bucket = 0
	}
	return subBucket << uint(bucket)
}

// highestEquivalentValue is the largest value that lands in slot i.
func (h *Histogram) highestEquivalentValue(i int) int64 {
	return h.valueFromIndex(i) + 1<<uint(h.bucketOf(i)) - 1
}

// medianEquivalentValue is the middle of slot i's range, which HdrHistogram's mean uses.
func (h *Histogram) medianEquivalentValue(i int) int64 {
	return h.valueFromIndex(i) + (1<<uint(h.bucketOf(i)))>>1
}

// CountAtOrBelow is the number of recorded values whose bucket lies wholly at or below v
// (ns): the cumulative count of a Prometheus `le` bucket, never over-counting.
func (h *Histogram) CountAtOrBelow(v int64) int64 {
	var n int64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		if h.highestEquivalentValue(i) > v {
			break
		}
		n += c
	}
	return n
}

// Sparse is the non-zero counts as [index, count] pairs: a compact form for reports.
func (h *Histogram) Sparse() [][2]int64 {
	var out [][2]int64
	for i, c := range h.counts {
		if c != 0 {
			out = append(out, [2]int64{int64(i), c})
		}
	}
	return out
}
