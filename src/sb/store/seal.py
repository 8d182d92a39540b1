"""A checksum inside every stored JSON file: the object's bytes → the same object with a last key "crc32"
over everything before it, and back, checked.

Damage a JSON parser would accept (a zeroed or flipped byte inside a number, a file cut at a line end and
re-closed) changes the bytes and so the checksum. Files written before checksums existed have no such key
and are read as they are; they gain one the next time they are written.
"""
import zlib

MARK = b',"crc32":"'
_TRAILER = b',"crc32":"%08x"}\n'


def seal(data):
    """A JSON object's bytes (ending in '}' and optional whitespace) → the same object with its checksum."""
    body = data.rstrip()
    assert body.endswith(b"}"), "seal() takes one JSON object"
    body = body[:-1]
    return body + _TRAILER % (zlib.crc32(body) & 0xFFFFFFFF)


def unseal(data, where):
    """The bytes again, checked: ValueError naming `where` when the checksum does not match."""
    at = data.rfind(MARK)
    if at < 0:
        return data  # written before checksums
    if data[at:] != _TRAILER % (zlib.crc32(data[:at]) & 0xFFFFFFFF):
        raise ValueError("{}: checksum mismatch (the file was changed or damaged after it was written)".format(where))
    return data
