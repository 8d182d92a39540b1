"""Interpreter and vendoring shims, kept in one place so the rest reads as plain Python 3.6."""
import io
import sys



def yaml():
    """The vendored PyYAML, imported on first use: it costs ~40 ms, and most runs read no YAML at all."""
    try:  # inside the built pyz, vendored packages live under sb._vendor
        from sb._vendor import yaml as module
    except ImportError:  # from a source checkout, vendor/ is on sys.path (pyproject's pytest settings)
        import yaml as module
    return module


def vendored_file(name):
    """Bytes of a vendored file that is not Python (the report's uPlot): in the pyz it is under sb/_vendor/,
    read through the package's loader (a zip on 3.6 too); from a source checkout, in vendor/."""
    import os
    import pkgutil
    try:
        data = pkgutil.get_data("sb", "_vendor/" + name)
    except (OSError, IOError):
        data = None
    if data is None:
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "..", "vendor", name), "rb") as handle:
            data = handle.read()
    return data


def _isascii(text):
    return all(c < "\x80" for c in text)


isascii = getattr(str, "isascii", _isascii)   # str.isascii is 3.7+

PY_VERSION = "{}.{}.{}".format(*sys.version_info[:3])


def tolerant_stdout():
    """Python 3.6 in the C locale (cron's) writes ASCII and raises on anything else (3.7+ coerces to UTF-8):
    make stdout replace what it cannot encode rather than crash a run over a non-ASCII path."""
    stream = sys.stdout
    if getattr(stream, "errors", "") == "strict" and (stream.encoding or "").lower().replace("-", "") != "utf8":
        encoding = stream.encoding
        sys.stdout = io.TextIOWrapper(stream.detach(), encoding=encoding, errors="backslashreplace",
                                      line_buffering=True)
