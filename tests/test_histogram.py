import json
import math
import re

import numpy as np
import pytest

from golat._histogram import HIGHEST_TRACKABLE_VALUE, Histogram, _geometry
from golat.errors import ConfigError

# Golden values from HdrHistogram (hdrh 0.10.8, HdrHistogram(1, 3_600_000_000_000, p)); the
# same table is in go_core/internal/hist/hist_test.go.
INDEX_GOLDEN = {
    2: [
        (0, 0, 0, 0),
        (1, 1, 1, 1),
        (255, 255, 255, 255),
        (256, 256, 256, 257),
        (257, 256, 256, 257),
        (511, 383, 510, 511),
        (512, 384, 512, 515),
        (1000, 506, 1000, 1003),
        (1023, 511, 1020, 1023),
        (1024, 512, 1024, 1031),
        (4096, 768, 4096, 4127),
        (1_000_000, 1780, 999424, 1003519),
        (3_600_000_000_000, 4561, 3590592659456, 3607772528639),
    ],
    3: [
        (0, 0, 0, 0),
        (1, 1, 1, 1),
        (2047, 2047, 2047, 2047),
        (2048, 2048, 2048, 2049),
        (4096, 3072, 4096, 4099),
        (1_000_000, 11169, 999936, 1000447),
        (3_600_000_000_000, 33420, 3599182594048, 3601330077695),
    ],
}


@pytest.mark.parametrize(
    "precision, counts_len, buckets, sub_buckets", [(2, 4608, 35, 256), (3, 33792, 32, 2048)]
)
def test_geometry(precision, counts_len, buckets, sub_buckets):
    geo = _geometry(precision)
    assert (geo.counts_len, geo.bucket_count, geo.sub_bucket_count) == (
        counts_len,
        buckets,
        sub_buckets,
    )
    assert Histogram(precision).counts.shape == (counts_len,)


@pytest.mark.parametrize("precision", [2, 3])
def test_index_golden(precision):
    geo = _geometry(precision)
    rows = np.array(INDEX_GOLDEN[precision], dtype=np.int64)
    values, index = rows[:, 0], rows[:, 1]
    assert [geo.index(int(v)) for v in values] == index.tolist()
    np.testing.assert_array_equal(geo.indices(values), index)
    np.testing.assert_array_equal(geo.lowest[index], rows[:, 2])
    np.testing.assert_array_equal(geo.highest[index], rows[:, 3])


@pytest.mark.parametrize("precision", [2, 3])
def test_every_value_lands_inside_its_slot(precision):
    geo = _geometry(precision)
    rng = np.random.default_rng(1)
    values = np.concatenate(
        [
            np.arange(5000),
            rng.integers(0, HIGHEST_TRACKABLE_VALUE + 1, 100_000),
            [HIGHEST_TRACKABLE_VALUE],
        ]
    )
    index = geo.indices(values)
    assert np.all((geo.lowest[index] <= values) & (values <= geo.highest[index]))


@pytest.mark.parametrize(
    "precision, values, p, expected",
    [
        (2, range(1, 101), 50, 50),
        (2, range(1, 101), 99, 99),
        (2, range(1, 101), 0, 1),
        (2, range(1, 101), 100, 100),
        (2, [10, 20, 30, 40], 62.5, 30),  # rank int(2.5 + 0.5) = 3
        (2, [1000, 1001], 50, 1003),  # highest equivalent value of the slot
        (3, [1000, 1001], 50, 1000),
        (2, [1001, 5000], 0, 1000),  # p0: lowest equivalent value, as HdrHistogram
        (2, [1, 1_000_000], 100, 1003519),  # p100: HdrHistogram's max
    ],
)
def test_percentile_golden(precision, values, p, expected):
    h = Histogram(precision)
    h.record(np.array(list(values)))
    assert h.percentile(p) == expected


def test_empty():
    h = Histogram()
    assert (h.count, h.min, h.max, h.mean, h.stddev, h.percentile(99)) == (0, 0, 0, 0.0, 0.0, 0)
    assert h.percentiles([50, 99]).tolist() == [0, 0]
    assert Histogram.decode(h.encode()) == h
    assert Histogram.from_json(h.to_json()) == h


def test_stats_and_nonzero():
    h = Histogram()
    h.record(np.array([100, 100, 100], dtype=np.uint16))
    h.record(300)  # slot [300, 301], median equivalent 301
    assert (h.count, h.min, h.max) == (4, 100, 300)
    assert h.mean == (3 * 100 + 301) / 4
    assert h.stddev == pytest.approx(math.sqrt((3 * 50.25**2 + 150.75**2) / 4))
    values, counts = h.nonzero()
    assert values.tolist() == [100, 300] and counts.tolist() == [3, 1]
    h.counts[100] = 99  # a copy
    assert h.count == 4 and h.percentile(50) == 100


def _lognormal(n, rng):
    return rng.lognormal(mean=math.log(200_000), sigma=1.0, size=n).astype(np.int64) + 1


def _bimodal(n, rng):
    fast = rng.normal(50_000, 5_000, size=n)
    slow = rng.lognormal(mean=math.log(5_000_000), sigma=0.5, size=n)
    return np.where(rng.random(n) < 0.9, fast, slow).clip(1).astype(np.int64)


@pytest.mark.parametrize("precision, tolerance", [(2, 0.01), (3, 0.001)])
@pytest.mark.parametrize("sampler", [_lognormal, _bimodal])
def test_percentile_accuracy(precision, tolerance, sampler):
    values = sampler(1_000_000, np.random.default_rng(42))
    h = Histogram(precision)
    h.record(values)
    ps = [50, 90, 99, 99.9, 99.99]
    exact = np.percentile(values, ps, method="inverted_cdf")
    relative_error = np.abs(h.percentiles(ps) - exact) / exact
    assert relative_error.max() <= tolerance, dict(zip(ps, relative_error))
    assert h.count == values.size and h.min == values.min() and h.max == values.max()
    assert h.mean == pytest.approx(values.mean(), rel=tolerance)


def test_merge_add_copy_eq():
    a, b = Histogram(), Histogram()
    a.record(np.full(5, 10))
    b.record(np.full(5, 1_000_000))
    both = a + b
    assert (both.count, both.min, both.max) == (10, 10, 1_000_000)
    assert both.percentiles([50, 60]).tolist() == [10, 1003519]
    assert a.count == 5  # __add__ leaves its operands alone
    c = a.copy()
    c.merge(b)
    assert c == both and c is not both and c != a
    whole = Histogram()
    whole.record(np.concatenate([np.full(5, 10), np.full(5, 1_000_000)]))
    assert whole == both


def test_percentile_cache_follows_records():
    h = Histogram()
    h.record(10)
    assert h.percentile(100) == 10
    h.record(1000)
    assert h.percentile(100) == 1003
    h.merge(Histogram._from_counts(np.eye(1, 4608, 2000, dtype=np.int64)[0], 2))
    assert h.percentile(100) == h.percentiles([100])[0] > 1003


def test_from_counts():
    geo = _geometry(3)
    counts = np.zeros(geo.counts_len, dtype=np.int32)
    counts[[5, 3000]] = [2, 1]
    h = Histogram._from_counts(counts, 3, min=5, max=3500)
    assert (h.count, h.min, h.max) == (3, 5, 3500)
    bounds = Histogram._from_counts(counts, 3)
    assert (bounds.min, bounds.max) == (5, int(geo.highest[3000])) and bounds == h
    counts[0] = 7
    assert h.count == 3  # the buffer was copied


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: Histogram(1), "2 or 3"),
        (lambda: Histogram(2.0), "2 or 3"),
        (lambda: Histogram(True), "2 or 3"),
        (lambda: Histogram().record(-1), "out of range"),
        (lambda: Histogram().record(HIGHEST_TRACKABLE_VALUE + 1), "out of range"),
        (lambda: Histogram().record(1 << 70), "out of range"),
        (lambda: Histogram().record(np.array([5, -3])), "out of range"),
        (lambda: Histogram().record(np.array([2**64 - 1], dtype=np.uint64)), "out of range"),
        (lambda: Histogram().record(1.5), "int"),
        (lambda: Histogram().record(float("nan")), "int"),
        (lambda: Histogram().record(np.array([1.0, 2.0])), "integers"),
        (lambda: Histogram().record(True), "bool"),
        (lambda: Histogram().record("12"), "int"),
        (lambda: Histogram().percentile(100.5), "0..100"),
        (lambda: Histogram().percentile(-1), "0..100"),
        (lambda: Histogram().percentile(float("nan")), "0..100"),
        (lambda: Histogram().percentile("50"), "number"),
        (lambda: Histogram().percentiles([50, 101]), "0..100"),
        (lambda: Histogram().merge(Histogram(3)), "precision"),
        (lambda: Histogram().merge(42), "Histogram"),
        (lambda: Histogram._from_counts(np.zeros(10), 2), "length 4608"),
        (lambda: Histogram._from_counts(np.full(4608, -1), 2), ">= 0"),
        (lambda: Histogram.from_json("{"), "JSON"),
        (lambda: Histogram.from_json('{"format": "other"}'), "format"),
        (lambda: Histogram.from_json('{"format": "golat-histogram", "version": 2}'), "version"),
        (lambda: Histogram.decode("not base64!"), "HdrHistogram"),
        (lambda: Histogram.decode("AAAAAAAAAAA="), "cookie"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ConfigError, match=match):
        call()


def test_bad_input_records_nothing():
    h = Histogram()
    with pytest.raises(ConfigError):
        h.record(np.array([5, HIGHEST_TRACKABLE_VALUE + 1]))
    assert h.count == 0


def test_json_round_trip():
    h = Histogram(3)
    h.record(_bimodal(10_000, np.random.default_rng(3)))
    doc = json.loads(h.to_json())
    assert (doc["format"], doc["version"], doc["precision"]) == ("golat-histogram", 1, 3)
    back = Histogram.from_json(h.to_json())
    assert back == h and (back.min, back.max, back.count) == (h.min, h.max, h.count)
    doc["count"] += 1
    with pytest.raises(ConfigError, match="count"):
        Histogram.from_json(json.dumps(doc))


def test_encode_round_trip():
    h = Histogram()
    h.record(np.array([0, 1, 1, 500, 10**12, HIGHEST_TRACKABLE_VALUE]))
    h.record(np.full(300, 7))  # counts above 127 need two LEB128 bytes
    back = Histogram.decode(h.encode())
    assert back == h and back.count == h.count


PS = [0, 25, 50, 90, 99, 99.9, 99.99, 100]


@pytest.mark.parametrize("precision", [2, 3])
def test_hdrh_reads_golat_encoding(precision):
    hdrh = pytest.importorskip("hdrh.histogram")
    h = Histogram(precision)
    h.record(_lognormal(50_000, np.random.default_rng(5)))
    theirs = hdrh.HdrHistogram.decode(h.encode())
    assert theirs.get_total_count() == h.count
    assert [theirs.get_value_at_percentile(p) for p in PS] == h.percentiles(PS).tolist()


@pytest.mark.parametrize("precision", [2, 3])
def test_golat_reads_hdrh_encoding(precision):
    hdrh = pytest.importorskip("hdrh.histogram")
    theirs = hdrh.HdrHistogram(1, HIGHEST_TRACKABLE_VALUE, precision)
    values = _bimodal(5_000, np.random.default_rng(6))
    for v in values.tolist():
        theirs.record_value(v)
    theirs.record_value(0, 3)
    h = Histogram.decode(theirs.encode())
    assert h.count == theirs.get_total_count() == values.size + 3
    assert h.percentiles(PS).tolist() == [theirs.get_value_at_percentile(p) for p in PS]
    mine = Histogram(precision)
    mine.record(values)
    mine.record(np.zeros(3, dtype=np.int8))
    assert h == mine


HGRM_ROW = re.compile(r"^ +\d+\.\d+ +\d\.\d{6} +\d+ +(\d+\.\d{2}|inf)$")


def test_to_hgrm_structure():
    h = Histogram()
    h.record(_lognormal(20_000, np.random.default_rng(7)))
    lines = h.to_hgrm().splitlines()
    assert lines[0] == "       Value   Percentile   TotalCount 1/(1-Percentile)"
    assert lines[1] == ""
    rows, footer = lines[2:-3], lines[-3:]
    assert all(HGRM_ROW.match(r) for r in rows), [r for r in rows if not HGRM_ROW.match(r)]
    table = np.array([r.split()[:3] for r in rows], dtype=float)
    assert np.all(np.diff(table, axis=0) >= 0)  # values, percentiles and counts never fall
    assert rows[0].split()[1] == "0.000000" and rows[-1].split()[1:] == ["1.000000", "20000", "inf"]
    assert float(rows[-1].split()[0]) == pytest.approx(h.percentile(100) / 1000)
    assert re.fullmatch(r"#\[Mean    = +[\d.]+, StdDeviation   = +[\d.]+\]", footer[0])
    assert (
        footer[1] == f"#[Max     = {h.percentile(100) / 1000:12.3f}, Total count    =        20000]"
    )
    assert footer[2] == "#[Buckets =           35, SubBuckets     =          256]"


def test_to_hgrm_golden():
    h = Histogram()
    h.record(1000)
    assert h.to_hgrm(scale=1.0) == (
        "       Value   Percentile   TotalCount 1/(1-Percentile)\n\n"
        "     1003.00     0.000000            1         1.00\n"
        "     1003.00     1.000000            1          inf\n"
        "#[Mean    =     1002.000, StdDeviation   =        0.000]\n"
        "#[Max     =     1003.000, Total count    =            1]\n"
        "#[Buckets =           35, SubBuckets     =          256]\n"
    )
    h.record(np.arange(1, 100))  # 1..100 with 1000: ticks of 10 % up to 50 %, then 5 %
    levels = [r.split()[1] for r in h.to_hgrm().splitlines()[2:9]]
    assert levels == [
        "0.000000",
        "0.100000",
        "0.200000",
        "0.300000",
        "0.400000",
        "0.500000",
        "0.550000",
    ]
