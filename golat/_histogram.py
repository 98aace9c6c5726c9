"""golat's HDR histogram of latencies in nanoseconds (pure Python + numpy).

The geometry is HdrHistogram's exactly: lowest discernible value 1, highest trackable value
3_600_000_000_000 ns (1 h), 2 or 3 significant figures. The flat ``counts`` array therefore has
HdrHistogram's layout, the same as ``go_core/internal/hist`` hands back through ``Counts()``.

Serialised forms:

- ``to_json`` / ``from_json``: golat's own format, ``{"format": "golat-histogram", "version": N}``.
  Version history:

  * 1 (golat 0.1): ``precision``, ``lowest_discernible_value``, ``highest_trackable_value``,
    ``count``, exact ``min_ns`` / ``max_ns`` and sparse ``counts`` as ``[index, count]`` pairs.

- ``encode`` / ``decode``: HdrHistogram's compressed V2 encoding (base64 text), readable by
  HdrHistogram (Java, C, Go, hdrh) tools. It carries no exact min/max: decoding gives the
  bucket bounds instead.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import numbers
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from golat.errors import ConfigError

__all__ = ["Histogram", "LOWEST_DISCERNIBLE_VALUE", "HIGHEST_TRACKABLE_VALUE"]

LOWEST_DISCERNIBLE_VALUE = 1
HIGHEST_TRACKABLE_VALUE = 3_600_000_000_000  # 1 h in ns
_PRECISIONS = (2, 3)
_JSON_FORMAT = "golat-histogram"
_JSON_VERSION = 1

# HdrHistogram V2 wire format. The low nibble-pair 0x10 of each cookie is the "word size" byte
# that HdrHistogram sets for V2 (LEB128) payloads; readers compare cookies with it masked out.
_V2_ENCODING_COOKIE = 0x1C849303 | 0x10
_V2_COMPRESSED_COOKIE = 0x1C849304 | 0x10
_COOKIE_MASK = ~0xF0 & 0xFFFFFFFF
_PAYLOAD_HEADER = struct.Struct(">IIiIqqd")  # cookie, length, index offset, figures, lo, hi, ratio
_OUTER_HEADER = struct.Struct(">II")  # cookie, compressed length


@dataclass(frozen=True)
class _Geometry:
    precision: int
    half_magnitude: int  # log2(sub_bucket_half_count)
    sub_bucket_count: int
    bucket_count: int
    counts_len: int
    lowest: np.ndarray  # lowest value equivalent to each slot
    highest: np.ndarray  # highest value equivalent to each slot
    median: np.ndarray  # middle of each slot, which HdrHistogram's mean uses

    @property
    def half_count(self) -> int:
        return self.sub_bucket_count // 2

    def index(self, value: int) -> int:
        bucket = (value | (self.sub_bucket_count - 1)).bit_length() - self.half_magnitude - 1
        return ((bucket + 1) << self.half_magnitude) + (value >> bucket) - self.half_count

    def indices(self, values: np.ndarray) -> np.ndarray:
        # frexp's exponent is the bit length, exact for integers below 2**53.
        masked = (values | (self.sub_bucket_count - 1)).astype(np.float64)
        bucket = np.frexp(masked)[1].astype(np.int64) - (self.half_magnitude + 1)
        return ((bucket + 1) << self.half_magnitude) + (values >> bucket) - self.half_count


@functools.cache
def _geometry(precision: int) -> _Geometry:
    largest_single_unit = 2 * 10**precision
    magnitude = (largest_single_unit - 1).bit_length()  # ceil(log2(...))
    sub_bucket_count = 1 << magnitude
    bucket_count, untrackable = 1, sub_bucket_count  # HdrHistogram's getBucketsNeeded...
    while untrackable <= HIGHEST_TRACKABLE_VALUE:
        untrackable <<= 1
        bucket_count += 1
    half_magnitude = magnitude - 1
    half_count = sub_bucket_count // 2
    counts_len = (bucket_count + 1) * half_count

    index = np.arange(counts_len, dtype=np.int64)
    bucket = (index >> half_magnitude) - 1
    sub_bucket = (index & (half_count - 1)) + half_count
    sub_bucket = np.where(bucket < 0, sub_bucket - half_count, sub_bucket)
    bucket = np.maximum(bucket, 0)
    lowest = sub_bucket << bucket
    width = np.int64(1) << bucket
    arrays = (lowest, lowest + width - 1, lowest + (width >> 1))
    for a in arrays:
        a.flags.writeable = False
    return _Geometry(precision, half_magnitude, sub_bucket_count, bucket_count, counts_len, *arrays)


def _check_precision(precision: object) -> int:
    if isinstance(precision, bool) or not isinstance(precision, numbers.Integral):
        raise ConfigError(f"precision must be the int 2 or 3, got {precision!r}")
    if int(precision) not in _PRECISIONS:
        raise ConfigError(f"precision must be 2 or 3 significant figures, got {precision}")
    return int(precision)


def _as_values(values: object) -> np.ndarray:
    """Validated values as a flat int64 array; raises ConfigError."""
    if isinstance(values, (bool, np.bool_)):
        raise ConfigError(f"values must be integers in ns, got the bool {values!r}")
    if isinstance(values, (int, np.integer)):
        values = np.array([int(values)], dtype=object if abs(values) >> 63 else np.int64)
        if values.dtype == object:
            raise ConfigError(
                f"value {values[0]} ns is out of range: allowed 0..{HIGHEST_TRACKABLE_VALUE} ns"
            )
    elif isinstance(values, (list, tuple)):
        values = np.asarray(values) if len(values) else np.empty(0, np.int64)
    if not isinstance(values, np.ndarray):
        raise ConfigError(
            f"values must be an int or a numpy integer array of ns, got {type(values).__name__}"
        )
    if values.dtype.kind not in "iu":
        raise ConfigError(f"values must be integers in ns, got a {values.dtype} array")
    values = values.ravel()
    if values.size:
        lo, hi = values.min(), values.max()
        if lo < 0 or hi > HIGHEST_TRACKABLE_VALUE:
            bad = lo if lo < 0 else hi
            raise ConfigError(
                f"value {bad} ns is out of range: allowed 0..{HIGHEST_TRACKABLE_VALUE} ns"
            )
    return values.astype(np.int64, copy=False)


def _as_percentiles(ps: object) -> np.ndarray:
    if isinstance(ps, (bool, np.bool_, str, bytes)):
        raise ConfigError(f"percentiles must be numbers in 0..100, got {ps!r}")
    try:
        arr = np.asarray(ps)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"percentiles must be numbers in 0..100, got {ps!r}") from err
    if arr.dtype.kind not in "iuf":
        raise ConfigError(f"percentiles must be numbers in 0..100, got {ps!r}")
    arr = arr.astype(np.float64)
    if not np.all((arr >= 0) & (arr <= 100)):  # also false for NaN
        raise ConfigError(f"percentiles must be in 0..100, got {ps!r}")
    return arr


def _zigzag_leb128(out: bytearray, n: int) -> None:
    """Append n as HdrHistogram's ZigZag LEB128 (at most 9 bytes, the 9th holding 8 bits)."""
    v = (n << 1) if n >= 0 else ((-n) << 1) - 1
    for _ in range(8):
        if v < 0x80:
            out.append(v)
            return
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def _read_zigzag_leb128(buf: bytes, pos: int) -> tuple[int, int]:
    v, shift = 0, 0
    for _ in range(8):
        byte = buf[pos]
        pos += 1
        v |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    else:
        v |= buf[pos] << 56
        pos += 1
    return (v >> 1) ^ -(v & 1), pos


class Histogram:
    """HDR histogram of int64 latencies in ns, 0..3_600_000_000_000, HdrHistogram's geometry.

    ``precision`` is the number of significant figures, 2 (default, <= 0.78 % bucket width) or
    3 (<= 0.098 %). Raises ConfigError for any other precision.
    """

    __hash__ = None  # mutable

    def __init__(self, precision: int = 2) -> None:
        self._geo = _geometry(_check_precision(precision))
        self._counts = np.zeros(self._geo.counts_len, dtype=np.int64)
        self._total = 0
        self._min = self._max = 0  # exact raw extremes; meaningless while empty
        self._cumsum: np.ndarray | None = None

    # ----------------------------------------------------------------- recording
    def record(self, values: object) -> None:
        """Record one value or an array of values, in ns.

        ``values``: an int, or a numpy integer array (any int dtype, any shape; a list of ints
        is accepted too). Raises ConfigError for floats, bools, other types, or any value outside
        0..3_600_000_000_000; then nothing is recorded.
        """
        if type(values) is int:  # one plain int: skip numpy (8x faster from Python)
            if not 0 <= values <= HIGHEST_TRACKABLE_VALUE:
                raise ConfigError(
                    f"value {values} ns is out of range: allowed 0..{HIGHEST_TRACKABLE_VALUE} ns"
                )
            self._counts[self._geo.index(values)] += 1
            self._add_extremes(values, values, 1)
            return
        arr = _as_values(values)
        if not arr.size:
            return
        if arr.size == 1:
            v = int(arr[0])
            self._counts[self._geo.index(v)] += 1
            lo = hi = v
        else:
            self._counts += np.bincount(self._geo.indices(arr), minlength=self._geo.counts_len)
            lo, hi = int(arr.min()), int(arr.max())
        self._add_extremes(lo, hi, arr.size)

    def _add_extremes(self, lo: int, hi: int, n: int) -> None:
        if self._total:
            lo, hi = min(lo, self._min), max(hi, self._max)
        self._min, self._max = lo, hi
        self._total += n
        self._cumsum = None

    @classmethod
    def _from_counts(
        cls, counts: np.ndarray, precision: int, min: int | None = None, max: int | None = None
    ) -> Histogram:
        """A histogram over a counts buffer in HdrHistogram's layout (as Go's ``Counts()``).

        ``min`` / ``max`` are the exact extremes in ns when known; otherwise the bounds of the
        lowest and highest non-empty slots stand in. The buffer is copied. Raises ConfigError
        for a wrong length or dtype, or negative counts.
        """
        h = cls(precision)
        counts = np.asarray(counts)
        if counts.shape != (h._geo.counts_len,) or counts.dtype.kind not in "iu":
            raise ConfigError(
                f"counts must be an integer array of length {h._geo.counts_len} for precision "
                f"{precision}, got {counts.dtype} with shape {counts.shape}"
            )
        if counts.size and counts.min() < 0:
            raise ConfigError("counts must be >= 0")
        h._counts = counts.astype(np.int64)  # always a copy: astype copies by default
        nz = np.flatnonzero(h._counts)
        if nz.size:
            lo = int(h._geo.lowest[nz[0]]) if min is None else int(min)
            hi = int(h._geo.highest[nz[-1]]) if max is None else int(max)
            h._add_extremes(lo, hi, int(h._counts.sum()))
        return h

    @classmethod
    def _from_sparse(cls, pairs: object, precision: int) -> Histogram:
        """A histogram from the core's sparse form: ``[[index, count], ...]`` in the layout of
        ``_from_counts`` (the per-class and server histograms travel this way)."""
        counts = np.zeros(_geometry(_check_precision(precision)).counts_len, dtype=np.int64)
        arr = np.asarray(pairs if pairs else np.zeros((0, 2)), dtype=np.int64).reshape(-1, 2)
        if arr.size and (arr[:, 0].min() < 0 or arr[:, 0].max() >= counts.size):
            raise ConfigError(f"sparse counts index outside 0..{counts.size - 1}")
        counts[arr[:, 0]] = arr[:, 1]
        return cls._from_counts(counts, precision)

    # ----------------------------------------------------------------- statistics
    @property
    def precision(self) -> int:
        """Significant figures, 2 or 3."""
        return self._geo.precision

    @property
    def count(self) -> int:
        """Number of values recorded."""
        return self._total

    @property
    def min(self) -> int:
        """Exact smallest value recorded, in ns (0 when empty; a slot bound after decode)."""
        return self._min

    @property
    def max(self) -> int:
        """Exact largest value recorded, in ns (0 when empty; a slot bound after decode).

        ``percentile(100)`` is HdrHistogram's max instead: the top of the slot holding it.
        """
        return self._max

    @property
    def mean(self) -> float:
        """Mean in ns, from each slot's median equivalent value as HdrHistogram computes it."""
        if not self._total:
            return 0.0
        return float(np.dot(self._counts, self._geo.median.astype(np.float64)) / self._total)

    @property
    def stddev(self) -> float:
        """Population standard deviation in ns, from slot median equivalent values."""
        if not self._total:
            return 0.0
        dev = self._geo.median.astype(np.float64) - self.mean
        return math.sqrt(float(np.dot(self._counts, dev * dev)) / self._total)

    @property
    def counts(self) -> np.ndarray:
        """A copy of the flat int64 counts array, in HdrHistogram's layout."""
        return self._counts.copy()

    def nonzero(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, counts) of the non-empty slots; values are each slot's lowest value, in ns."""
        nz = np.flatnonzero(self._counts)
        return self._geo.lowest[nz].copy(), self._counts[nz]

    def percentile(self, p: float) -> int:
        """Value in ns at percentile ``p`` (0..100), as HdrHistogram reports it.

        The rank is ``max(1, int(p / 100 * count + 0.5))``; the answer is the highest value
        equivalent to the slot holding that rank (the lowest one for ``p == 0``, as HdrHistogram
        does), so ``percentile(100)`` is HdrHistogram's max. 0 when empty. Raises ConfigError
        for p outside 0..100, NaN or a non-number.
        """
        if not isinstance(p, (numbers.Real, np.floating, np.integer)) or isinstance(p, bool):
            raise ConfigError(f"percentile must be a number in 0..100, got {p!r}")
        return int(self.percentiles(np.array([p], dtype=np.float64))[0])

    def percentiles(self, ps: object) -> np.ndarray:
        """Values in ns (int64 array) at each percentile of ``ps`` (0..100); see percentile()."""
        ps = _as_percentiles(ps)
        if not self._total:
            return np.zeros(ps.shape, dtype=np.int64)
        if self._cumsum is None:
            self._cumsum = np.cumsum(self._counts)
        rank = np.maximum((ps / 100.0 * self._total + 0.5).astype(np.int64), 1)
        index = np.searchsorted(self._cumsum, rank, side="left")
        return np.where(ps == 0, self._geo.lowest[index], self._geo.highest[index])

    # ----------------------------------------------------------------- combining
    def merge(self, other: Histogram) -> None:
        """Add ``other``'s counts to this histogram. Raises ConfigError unless same precision."""
        if not isinstance(other, Histogram):
            raise ConfigError(f"can only merge a Histogram, got {type(other).__name__}")
        if other.precision != self.precision:
            raise ConfigError(
                f"cannot merge precision {other.precision} into precision {self.precision}: "
                "precisions must be equal"
            )
        if other._total:
            self._counts += other._counts
            self._add_extremes(other._min, other._max, other._total)

    def __add__(self, other: object) -> Histogram:
        if not isinstance(other, Histogram):
            return NotImplemented
        result = self.copy()
        result.merge(other)
        return result

    def copy(self) -> Histogram:
        """An independent copy."""
        h = Histogram(self.precision)
        h.merge(self)
        return h

    def __eq__(self, other: object) -> bool:
        """Same precision and counts; min/max are not compared (encodings that drop them still
        describe the same histogram)."""
        if not isinstance(other, Histogram):
            return NotImplemented
        return self.precision == other.precision and np.array_equal(self._counts, other._counts)

    def __repr__(self) -> str:
        if not self._total:
            return f"Histogram(precision={self.precision}, count=0)"
        p50, p99 = self.percentiles([50, 99])
        return (
            f"Histogram(precision={self.precision}, count={self._total}, min_ns={self._min}, "
            f"p50_ns={p50}, p99_ns={p99}, max_ns={self._max})"
        )

    # ----------------------------------------------------------------- text report
    def to_hgrm(self, scale: float = 1000.0) -> str:
        """HdrHistogram's percentile distribution, as HdrHistogram_c / wrk2 ``--latency`` print it.

        Values are divided by ``scale`` (default 1000.0: ns -> µs). Five ticks per half
        distance to 100 %, then the Mean/StdDeviation, Max/Total count and Buckets footer.
        """
        geo, total = self._geo, self._total
        # Formats are HdrHistogram_c's printf ones ("%12.{figures}f %12f %12d %12.2f").
        lines = [
            f"{'Value':>12} {'Percentile':>12} {'TotalCount':>12} {'1/(1-Percentile)':>12}\n\n"
        ]
        digits = geo.precision
        ticks_per_half_distance = 5
        nz = np.flatnonzero(self._counts)
        cumulative = np.cumsum(self._counts[nz])

        def row(value_ns: int, percentile: float, cum: int, inverted: float) -> str:
            return f"{value_ns / scale:12.{digits}f} {percentile:12f} {cum:12d} {inverted:12.2f}\n"

        level = 0.0  # percentile to iterate to, as HdrHistogram_c's percentile iterator
        for index, cum in zip(nz.tolist(), cumulative.tolist()):
            current = 100.0 * cum / total
            while level <= current:
                inverted = 1.0 / (1.0 - level / 100.0)
                lines.append(row(int(geo.highest[index]), level / 100.0, cum, inverted))
                if cum == total:
                    break
                half_distance = 2 ** (int(math.log(100.0 / (100.0 - level)) / math.log(2)) + 1)
                level += 100.0 / (ticks_per_half_distance * half_distance)
        hdr_max = int(geo.highest[nz[-1]]) if total else 0
        if total:
            lines.append(row(hdr_max, 1.0, total, math.inf))
        lines.append(
            f"#[Mean    = {self.mean / scale:12.3f}, "
            f"StdDeviation   = {self.stddev / scale:12.3f}]\n"
            f"#[Max     = {hdr_max / scale:12.3f}, Total count    = {total:12d}]\n"
            f"#[Buckets = {geo.bucket_count:12d}, SubBuckets     = {geo.sub_bucket_count:12d}]\n"
        )
        return "".join(lines)

    # ----------------------------------------------------------------- golat JSON
    def to_json(self) -> str:
        """golat's JSON form (format "golat-histogram", version 1; see the module docstring)."""
        nz = np.flatnonzero(self._counts)
        return json.dumps(
            {
                "format": _JSON_FORMAT,
                "version": _JSON_VERSION,
                "precision": self.precision,
                "lowest_discernible_value": LOWEST_DISCERNIBLE_VALUE,
                "highest_trackable_value": HIGHEST_TRACKABLE_VALUE,
                "count": self._total,
                "min_ns": self._min,
                "max_ns": self._max,
                "counts": [[int(i), int(self._counts[i])] for i in nz],
            }
        )

    @classmethod
    def from_json(cls, s: str | bytes) -> Histogram:
        """Read to_json()'s output. Raises ConfigError for malformed input or another version."""
        try:
            doc = json.loads(s)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"not a golat histogram JSON document: {err}") from err
        if not isinstance(doc, dict) or doc.get("format") != _JSON_FORMAT:
            raise ConfigError(f'not a golat histogram: "format" must be "{_JSON_FORMAT}"')
        if doc.get("version") != _JSON_VERSION:
            raise ConfigError(
                f"unsupported golat histogram version {doc.get('version')!r}: "
                f"this golat reads version {_JSON_VERSION}"
            )
        if (
            doc.get("lowest_discernible_value") != LOWEST_DISCERNIBLE_VALUE
            or doc.get("highest_trackable_value") != HIGHEST_TRACKABLE_VALUE
        ):
            raise ConfigError(
                f"histogram range must be {LOWEST_DISCERNIBLE_VALUE}..{HIGHEST_TRACKABLE_VALUE}"
            )
        h = cls(doc.get("precision"))
        try:
            pairs = np.array(doc["counts"], dtype=np.int64).reshape(-1, 2)
            count, lo, hi = (int(doc[k]) for k in ("count", "min_ns", "max_ns"))
        except (KeyError, TypeError, ValueError, OverflowError) as err:
            raise ConfigError(f"malformed golat histogram: {err!r}") from err
        index, n = pairs[:, 0], pairs[:, 1]
        if not (0 <= lo <= hi <= HIGHEST_TRACKABLE_VALUE) and count:
            raise ConfigError("malformed golat histogram: min_ns/max_ns out of range")
        if (
            np.any((index < 0) | (index >= h._geo.counts_len) | (n <= 0))
            or np.unique(index).size != index.size
            or int(n.sum()) != count
        ):
            raise ConfigError("malformed golat histogram: bad [index, count] pairs or count")
        h._counts[index] = n
        if count and not (h._geo.index(lo) == index.min() and h._geo.index(hi) == index.max()):
            raise ConfigError("malformed golat histogram: min_ns/max_ns disagree with counts")
        return cls._from_counts(h._counts, h.precision, lo, hi) if count else h

    # ----------------------------------------------------------------- HdrHistogram V2
    def encode(self) -> str:
        """HdrHistogram's compressed V2 encoding, as base64 text."""
        nz = np.flatnonzero(self._counts)
        return _encode_sparse(nz.tolist(), self._counts[nz].tolist(), self.precision)

    @classmethod
    def decode(cls, s: str | bytes) -> Histogram:
        """Read HdrHistogram's compressed V2 encoding (base64). min/max become slot bounds.

        Accepts any highest trackable value whose counts fit golat's range; raises ConfigError
        for anything else (bad base64/zlib, cookies, lowest value != 1, precision not 2 or 3).
        """
        try:
            raw = base64.b64decode(s, validate=True)
            cookie, length = _OUTER_HEADER.unpack_from(raw)
            if cookie & _COOKIE_MASK != _V2_COMPRESSED_COOKIE & _COOKIE_MASK:
                raise ConfigError(f"not a compressed V2 HdrHistogram: cookie {cookie:#x}")
            if length != len(raw) - _OUTER_HEADER.size:
                raise ConfigError("truncated HdrHistogram encoding")
            data = zlib.decompress(raw[_OUTER_HEADER.size :])
            cookie, length, offset, figures, lowest, _, _ = _PAYLOAD_HEADER.unpack_from(data)
        except (binascii.Error, ValueError, TypeError, struct.error, zlib.error) as err:
            if isinstance(err, ConfigError):
                raise
            raise ConfigError(f"not a compressed V2 HdrHistogram: {err}") from err
        if cookie & _COOKIE_MASK != _V2_ENCODING_COOKIE & _COOKIE_MASK:
            raise ConfigError(f"not a V2 HdrHistogram payload: cookie {cookie:#x}")
        if lowest != LOWEST_DISCERNIBLE_VALUE or offset != 0:
            raise ConfigError(
                f"HdrHistogram lowest discernible value must be 1 and its normalizing index "
                f"offset 0, got {lowest} and {offset}"
            )
        h = cls(figures)
        body = data[_PAYLOAD_HEADER.size :]
        if length != len(body):
            raise ConfigError("HdrHistogram payload length disagrees with its header")
        pos = index = 0
        while pos < len(body):
            try:
                n, pos = _read_zigzag_leb128(body, pos)
            except IndexError as err:
                raise ConfigError("HdrHistogram payload ends inside a count") from err
            if n < 0:
                index -= n
                continue
            if index >= h._geo.counts_len:
                raise ConfigError("HdrHistogram counts do not fit golat's range 0..1 h")
            h._counts[index] = n
            index += 1
        return cls._from_counts(h._counts, h.precision)


def _encode_sparse(indices: list[int], counts: list[int], precision: int) -> str:
    """HdrHistogram's compressed V2 encoding (base64) of non-empty slots ``indices`` (in
    increasing order) holding ``counts``."""
    payload = bytearray()
    next_index = 0
    for i, n in zip(indices, counts):
        if i > next_index:
            _zigzag_leb128(payload, next_index - i)  # a run of zeros as a negative count
        _zigzag_leb128(payload, n)
        next_index = i + 1
    header = _PAYLOAD_HEADER.pack(
        _V2_ENCODING_COOKIE,
        len(payload),
        0,
        precision,
        LOWEST_DISCERNIBLE_VALUE,
        HIGHEST_TRACKABLE_VALUE,
        1.0,
    )
    compressed = zlib.compress(header + payload)
    outer = _OUTER_HEADER.pack(_V2_COMPRESSED_COOKIE, len(compressed))
    return base64.b64encode(outer + compressed).decode("ascii")
