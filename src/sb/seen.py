"""Dedupe: which job identities a cluster has already counted, one Bloom filter + exact record per month.

File `state/seen/YYYY-MM.bloom`: a magic line, a JSON header line (k, m, n, capacity, fp rate), the m-bit
Bloom filter, then the exact record (zlib of the sorted identities as delta-coded columns). The Bloom
answers "certainly new" cheaply; a "maybe seen" is always confirmed against the exact record, so a
false positive can never drop a real job.
"""
import json
import math
import zlib
from array import array
from bisect import bisect_left
from itertools import accumulate

MAGIC = b"SBSEEN1\n"
_M64 = (1 << 64) - 1
MIN_CAPACITY = 1024


def _mix(key):
    """splitmix64 finaliser: spreads consecutive job ids over the whole filter."""
    z = (key + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


class Bloom:
    def __init__(self, capacity, fp_rate, bits=None, k=None, m=None):
        self.capacity = max(int(capacity), MIN_CAPACITY)
        self.fp_rate = fp_rate
        self.m = m or max(64, int(math.ceil(-self.capacity * math.log(fp_rate) / math.log(2) ** 2)))
        self.k = k or max(1, int(round(self.m / self.capacity * math.log(2))))
        self.bits = bits if bits is not None else bytearray((self.m + 7) // 8)

    def _positions(self, key):
        h = _mix(key)
        h1, h2, m = h >> 32, (h & 0xFFFFFFFF) | 1, self.m
        return [(h1 + i * h2) % m for i in range(self.k)]

    def add(self, key):
        bits = self.bits
        for p in self._positions(key):
            bits[p >> 3] |= 1 << (p & 7)

    def __contains__(self, key):
        bits = self.bits
        for p in self._positions(key):
            if not bits[p >> 3] & (1 << (p & 7)):
                return False
        return True


class SeenMonth:
    """The identities counted for one month: persisted ones plus those added by the batch in hand."""

    def __init__(self, month, fp_rate, bloom=None, exact_blob=b"", count=0, where=None):
        self.month = month
        self.where = where or month
        self.fp_rate = fp_rate
        self.bloom = bloom or Bloom(MIN_CAPACITY, fp_rate)
        self._exact_blob = exact_blob
        self._exact = None if count else array("Q")  # decoded lazily: most new jobs never need it
        self.count = count
        self.added = array("Q")

    def __contains__(self, key):
        if key not in self.bloom:
            return False
        exact = self._exact_keys()
        i = bisect_left(exact, key)
        return (i < len(exact) and exact[i] == key) or key in self.added

    def add(self, key):
        self.added.append(key)
        if self.count + len(self.added) > self.bloom.capacity:
            self._grow()
        else:
            self.bloom.add(key)

    def _grow(self):
        bloom = Bloom(2 * (self.count + len(self.added)), self.fp_rate)
        for key in self._all_keys():
            bloom.add(key)
        self.bloom = bloom

    def _exact_keys(self):
        if self._exact is None:
            try:
                self._exact = _decode(self._exact_blob, self.count)
            except (ValueError, zlib.error) as err:
                raise ValueError("{}: exact record is damaged ({}); restore the file from backup".format(
                    self.where, err))
        return self._exact

    def _all_keys(self):
        self._exact_keys()
        return sorted(self._exact + self.added) if self.added else list(self._exact)

    def to_bytes(self):
        keys = self._all_keys()
        header = {"month": self.month, "k": self.bloom.k, "m": self.bloom.m, "n": len(keys),
                  "capacity": self.bloom.capacity, "fp_rate": self.fp_rate}
        return b"".join((MAGIC, json.dumps(header, sort_keys=True).encode(), b"\n",
                         bytes(self.bloom.bits), _encode(keys)))

    @classmethod
    def from_bytes(cls, month, data, fp_rate, where):
        if not data.startswith(MAGIC):
            raise ValueError("{}: not a seen file (bad magic)".format(where))
        newline = data.index(b"\n", len(MAGIC))
        header = json.loads(data[len(MAGIC):newline].decode())
        start = newline + 1
        nbytes = (header["m"] + 7) // 8
        bits = bytearray(data[start:start + nbytes])
        if len(bits) != nbytes:
            raise ValueError("{}: truncated Bloom filter".format(where))
        bloom = Bloom(header["capacity"], header["fp_rate"], bits, header["k"], header["m"])
        return cls(month, fp_rate, bloom, data[start + nbytes:], header["n"], where)


def _encode(keys):
    """Sorted 64-bit identities → zlib of two columns: job-id deltas and submit-time deltas."""
    ids = array("Q", (k >> 32 for k in keys))
    submits = array("q", (k & 0xFFFFFFFF for k in keys))
    id_deltas = array("Q", [ids[0]] if ids else []) + array("Q", (b - a for a, b in zip(ids, ids[1:])))
    submit_deltas = array("q", submits[:1]) + array("q", (b - a for a, b in zip(submits, submits[1:])))
    return zlib.compress(id_deltas.tobytes() + submit_deltas.tobytes(), 6)


def _decode(blob, count):
    raw = zlib.decompress(blob) if blob else b""
    if len(raw) != 16 * count:
        raise ValueError("exact record holds {} bytes, expected {}".format(len(raw), 16 * count))
    ids, submits = array("Q"), array("q")
    ids.frombytes(raw[:8 * count])
    submits.frombytes(raw[8 * count:])
    return array("Q", (i << 32 | s for i, s in zip(accumulate(ids), accumulate(submits))))
