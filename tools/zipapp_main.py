# -*- coding: utf-8 -*-
"""slurm-sb.pyz entry: choose where shiv may unpack (HOME may be read-only or full), then start.

Order: $SHIV_ROOT if set; ~/.shiv; a private $TMPDIR/slurm-sb-<uid>; else run straight from the zip
(everything is pure Python, so that works, only each start is slower).
"""
import os
import shutil
import stat
import sys


def _private_dir(path):
    """Create or accept a directory only we can write (never trust a pre-made shared /tmp entry)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    info = os.lstat(path)
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def _candidates():
    if os.environ.get("SHIV_ROOT"):
        return [os.environ["SHIV_ROOT"]]
    roots = [os.path.expanduser("~/.shiv")]
    for tmp in (os.environ.get("TMPDIR"), "/tmp"):
        path = tmp and os.path.join(tmp, "slurm-sb-{}".format(os.getuid()))
        if path and path not in roots and _private_dir(path):
            roots.append(path)
    return roots


def _unpacked_root():
    """The first root where our site-packages is (or can now be) unpacked; None if none can."""
    from _bootstrap import cache_path, current_zipfile, extract_site_packages
    from _bootstrap.environment import Environment
    problems = []
    with current_zipfile() as archive:
        env = Environment.from_json(archive.read("environment.json").decode())
        for root in _candidates():
            target = cache_path(archive, root, env.build_id)
            if (target / "site-packages").exists():
                return root, problems
            try:
                extract_site_packages(archive, target, env.compile_pyc, env.compile_workers, env.force_extract)
                return root, problems
            except OSError as err:
                shutil.rmtree(str(target) + ".tmp", ignore_errors=True)
                problems.append("{}: {}".format(root, err.strerror or err))
    return None, problems


def _main():
    root, problems = _unpacked_root()
    if root is not None:
        os.environ["SHIV_ROOT"] = root
        import _bootstrap
        _bootstrap.bootstrap()
        return
    if os.environ.get("SHIV_ROOT"):
        sys.stderr.write("slurm-sb: cannot unpack into SHIV_ROOT ({}); set SHIV_ROOT to a writable "
                         "directory or unset it\n".format("; ".join(problems)))
        sys.exit(1)
    if sys.stderr.isatty():
        sys.stderr.write("slurm-sb: no writable unpack directory ({}); running from the zip, which starts "
                         "slower. Set SHIV_ROOT to a writable directory to avoid this.\n".format("; ".join(problems)))
    sys.path.insert(0, os.path.join(os.path.abspath(sys.argv[0]), "site-packages"))
    from sb.cli import main
    sys.exit(main())


_main()
