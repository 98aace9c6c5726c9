package hist

import (
	"errors"
	"testing"
)

func mustNew(t testing.TB, precision int) *Histogram {
	t.Helper()
	h, err := New(precision)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestCountsLen(t *testing.T) {
	for _, tc := range []struct{ precision, want int }{{2, 4608}, {3, 33792}, {1, 0}, {4, 0}} {
		if got := CountsLen(tc.precision); got != tc.want {
			t.Errorf("CountsLen(%d) = %d, want %d", tc.precision, got, tc.want)
		}
	}
	for _, tc := range []struct{ precision, buckets, subBuckets int }{{2, 35, 256}, {3, 32, 2048}} {
		h := mustNew(t, tc.precision)
		if h.bucketCount != tc.buckets || h.subBucketCount != tc.subBuckets {
			t.Errorf("precision %d: buckets %d sub-buckets %d, want %d %d",
				tc.precision, h.bucketCount, h.subBucketCount, tc.buckets, tc.subBuckets)
		}
	}
}

func TestNewRejectsPrecision(t *testing.T) {
	for _, p := range []int{-1, 0, 1, 4, 5} {
		if _, err := New(p); !errors.Is(err, ErrPrecision) {
			t.Errorf("New(%d): err = %v, want ErrPrecision", p, err)
		}
	}
}

// Golden values taken from HdrHistogram (hdrh 0.10.8, HdrHistogram(1, 3_600_000_000_000, p)).
func TestIndexGolden(t *testing.T) {
	type row struct{ v, index, lowest, highest int64 }
	tables := map[int][]row{
		2: {
			{0, 0, 0, 0}, {1, 1, 1, 1}, {255, 255, 255, 255}, {256, 256, 256, 257},
			{257, 256, 256, 257}, {511, 383, 510, 511}, {512, 384, 512, 515},
			{1000, 506, 1000, 1003}, {1023, 511, 1020, 1023}, {1024, 512, 1024, 1031},
			{4096, 768, 4096, 4127}, {1_000_000, 1780, 999424, 1003519},
			{3_600_000_000_000, 4561, 3590592659456, 3607772528639},
		},
		3: {
			{0, 0, 0, 0}, {1, 1, 1, 1}, {2047, 2047, 2047, 2047}, {2048, 2048, 2048, 2049},
			{4096, 3072, 4096, 4099}, {1_000_000, 11169, 999936, 1000447},
			{3_600_000_000_000, 33420, 3599182594048, 3601330077695},
		},
	}
	for precision, rows := range tables {
		h := mustNew(t, precision)
		for _, r := range rows {
			i := h.countsIndex(r.v)
			if int64(i) != r.index || h.valueFromIndex(i) != r.lowest ||
				h.highestEquivalentValue(i) != r.highest {
				t.Errorf("p%d value %d: index %d [%d, %d], want %d [%d, %d]", precision, r.v,
					i, h.valueFromIndex(i), h.highestEquivalentValue(i), r.index, r.lowest, r.highest)
			}
		}
	}
}

func TestValueAtQuantile(t *testing.T) {
	tests := []struct {
		name      string
		precision int
		values    []int64
		q         float64
		want      int64
	}{
		{"empty", 2, nil, 50, 0},
		{"1..100 p50", 2, seq(1, 100), 50, 50},
		{"1..100 p99", 2, seq(1, 100), 99, 99},
		{"1..100 p0 is lowest", 2, seq(1, 100), 0, 1},
		{"1..100 p100", 2, seq(1, 100), 100, 100},
		{"clamped above", 2, seq(1, 100), 250, 100},
		{"rounded rank", 2, []int64{10, 20, 30, 40}, 62.5, 30}, // 2.5+0.5 -> rank 3
		{"highest equivalent", 2, []int64{1000, 1001}, 50, 1003},
		{"p3 exact", 3, []int64{1000, 1001}, 50, 1000},
		{"p0 lowest equivalent", 2, []int64{1001, 5000}, 0, 1000},
		{"p100 is hdr max", 2, []int64{1, 1_000_000}, 100, 1003519},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := mustNew(t, tc.precision)
			for _, v := range tc.values {
				h.RecordValue(v)
			}
			if got := h.ValueAtQuantile(tc.q); got != tc.want {
				t.Errorf("ValueAtQuantile(%v) = %d, want %d", tc.q, got, tc.want)
			}
		})
	}
}

func seq(from, to int64) []int64 {
	var s []int64
	for v := from; v <= to; v++ {
		s = append(s, v)
	}
	return s
}

func TestStats(t *testing.T) {
	h := mustNew(t, 2)
	h.RecordValues(100, 3)
	h.RecordValue(300) // slot [300, 301], median equivalent 301
	if h.TotalCount() != 4 || h.Min() != 100 || h.Max() != 300 {
		t.Fatalf("count/min/max = %d/%d/%d", h.TotalCount(), h.Min(), h.Max())
	}
	if got, want := h.Mean(), (3*100+301)/4.0; got != want {
		t.Errorf("Mean = %v, want %v", got, want)
	}
	if got := h.StdDev(); got < 87.03 || got > 87.04 { // sqrt((3*50.25^2+150.75^2)/4)
		t.Errorf("StdDev = %v", got)
	}
	h.Reset()
	if h.TotalCount() != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 || h.StdDev() != 0 {
		t.Errorf("after Reset: %d %d %d %v %v", h.TotalCount(), h.Min(), h.Max(), h.Mean(), h.StdDev())
	}
}

func TestOutOfRange(t *testing.T) {
	h := mustNew(t, 2)
	for _, v := range []int64{-1, HighestTrackableValue + 1, 1 << 62} {
		if h.RecordValue(v) {
			t.Errorf("RecordValue(%d) = true", v)
		}
	}
	if !h.RecordValue(HighestTrackableValue) || !h.RecordValue(0) {
		t.Error("range limits refused")
	}
	h.RecordValues(-5, 10)
	if h.RecordValues(5, 0) {
		t.Error("RecordValues(5, 0) = true")
	}
	if h.Overflow() != 13 || h.TotalCount() != 2 {
		t.Errorf("Overflow %d TotalCount %d, want 13 2", h.Overflow(), h.TotalCount())
	}
}

func TestMerge(t *testing.T) {
	a, b := mustNew(t, 2), mustNew(t, 2)
	a.RecordValues(10, 5)
	b.RecordValues(1_000_000, 5)
	b.RecordValue(-1)
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if a.TotalCount() != 10 || a.Overflow() != 1 || a.Min() != 10 || a.Max() != 1_000_000 {
		t.Errorf("merged: count %d overflow %d min %d max %d", a.TotalCount(), a.Overflow(), a.Min(), a.Max())
	}
	if a.ValueAtQuantile(50) != 10 || a.ValueAtQuantile(60) != 1003519 {
		t.Errorf("merged quantiles %d %d", a.ValueAtQuantile(50), a.ValueAtQuantile(60))
	}
	if err := a.Merge(mustNew(t, 3)); err == nil {
		t.Error("merging precision 3 into 2 succeeded")
	}
	empty := mustNew(t, 2)
	if err := empty.Merge(mustNew(t, 2)); err != nil || empty.Min() != 0 {
		t.Errorf("empty merge: %v, min %d", err, empty.Min())
	}
}

func FuzzRecordValue(f *testing.F) {
	for _, v := range []int64{0, 1, 255, 256, 1023, 1_000_000, HighestTrackableValue, -1, 1 << 62} {
		f.Add(v, uint8(2))
	}
	f.Fuzz(func(t *testing.T, v int64, p uint8) {
		precision := 2 + int(p%2)
		h := mustNew(t, precision)
		ok := h.RecordValue(v)
		if inRange := v >= 0 && v <= HighestTrackableValue; ok != inRange {
			t.Fatalf("RecordValue(%d) = %v, in range %v", v, ok, inRange)
		}
		if !ok {
			if h.Overflow() != 1 || h.TotalCount() != 0 {
				t.Fatalf("out of range %d: overflow %d total %d", v, h.Overflow(), h.TotalCount())
			}
			return
		}
		i := h.countsIndex(v)
		if i < 0 || i >= len(h.counts) || h.counts[i] != 1 {
			t.Fatalf("value %d: index %d of %d not counted", v, i, len(h.counts))
		}
		if lo, hi := h.valueFromIndex(i), h.highestEquivalentValue(i); v < lo || v > hi {
			t.Fatalf("value %d outside its slot %d [%d, %d]", v, i, lo, hi)
		}
		// A slot is at most 1/2^(magnitude-1) of its values wide: the precision promise.
		if width := h.highestEquivalentValue(i) - h.valueFromIndex(i); width*h.subBucketHalfCount > v {
			t.Fatalf("value %d: slot width %d too coarse", v, width+1)
		}
	})
}

func BenchmarkRecordValue(b *testing.B) {
	h := mustNew(b, 2)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.RecordValue(int64(i) & (1<<40 - 1))
	}
}
