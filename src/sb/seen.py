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
from heapq import merge
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

    def add(self, key):
        h = _mix(key)
        h1, h2, m, bits = h >> 32, (h & 0xFFFFFFFF) | 1, self.m, self.bits
        for _ in range(self.k):
            p = h1 % m
            bits[p >> 3] |= 1 << (p & 7)
            h1 += h2

    def __contains__(self, key):
        h = _mix(key)
        h1, h2, m, bits = h >> 32, (h & 0xFFFFFFFF) | 1, self.m, self.bits
        for _ in range(self.k):
            p = h1 % m
            if not bits[p >> 3] & (1 << (p & 7)):
                return False
            h1 += h2
        return True


class SeenMonth:
    """The identities counted for one month: persisted ones plus those added by the batch in hand.

    Lookups ask the Bloom filter only while the exact record is still undecoded (it spares decoding
    when every key is new); once decoded, the exact record answers alone. The filter is extended
    (or rebuilt bigger) once, when the month is written.
    """

    def __init__(self, month, fp_rate, bloom=None, exact_blob=b"", count=0, where=None):
        self.month = month
        self.where = where or month
        self.fp_rate = fp_rate
        self.bloom = bloom
        self._exact_blob = exact_blob
        self._exact = None if count else array("Q")
        self.count = count
        self.added = set()

    def __contains__(self, key):
        if key in self.added:
            return True
        if not self.count:
            return False
        exact = self._exact
        if exact is None:
            if key not in self.bloom:
                return False
            exact = self._exact_keys()
        i = bisect_left(exact, key)
        return i < len(exact) and exact[i] == key

    def add(self, key):
        self.added.add(key)

    def _exact_keys(self):
        if self._exact is None:
            try:
                self._exact = _decode(self._exact_blob, self.count)
            except (ValueError, zlib.error) as err:
                raise ValueError("{}: exact record is damaged ({}); restore the file from backup".format(
                    self.where, err))
        return self._exact

    def to_bytes(self, closed=False):
        """The month's file: Bloom filter over every key, then the exact record. An open month's filter
        gets room to double before it must be rebuilt; a closed month's is sized to its keys."""
        new = sorted(self.added)
        keys = array("Q", merge(self._exact_keys(), new)) if self.count else array("Q", new)
        bloom = self.bloom
        if bloom is None or len(keys) > bloom.capacity or (closed and bloom.capacity > len(keys) + MIN_CAPACITY):
            bloom = Bloom(len(keys) if closed else 2 * len(keys), self.fp_rate)
            new = keys
        for key in new:
            bloom.add(key)
        header = {"month": self.month, "k": bloom.k, "m": bloom.m, "n": len(keys),
                  "capacity": bloom.capacity, "fp_rate": bloom.fp_rate}
        return b"".join((MAGIC, json.dumps(header, sort_keys=True).encode(), b"\n",
                         bytes(bloom.bits), _encode(keys)))

    @classmethod
    def from_bytes(cls, month, data, fp_rate, where):
        if not data.startswith(MAGIC):
            raise ValueError("{}: not a seen file (bad magic)".format(where))
        newline = data.index(b"\n", len(MAGIC))
        header = json.loads(data[len(MAGIC):newline].decode())
        if not all(isinstance(header.get(k), int) and header[k] >= 0 for k in ("k", "m", "n", "capacity")):
            raise ValueError("{}: header {!r} lacks whole numbers k, m, n, capacity".format(where, header))
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
