"""Interpreter and vendoring shims, kept in one place so the rest reads as plain Python 3.6."""
import sys

try:  # inside the built pyz, vendored packages live under sb._vendor
    from sb._vendor import yaml  # noqa: F401
except ImportError:  # from a source checkout, vendor/ is on sys.path (pyproject's pytest settings)
    import yaml  # noqa: F401

PY_VERSION = "{}.{}.{}".format(*sys.version_info[:3])
