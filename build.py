#!/usr/bin/env python3
"""Build dist/slurm-sb.pyz: src/sb + vendor/ + the demo data, zipped by shiv, with our own __main__.

Usage: python3 build.py [--output PATH]. Needs shiv (pip install shiv==1.0.8) at build time only;
the pyz itself runs on any python3 ≥ 3.6 with nothing installed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "_vendor", "demo_data")


def stage(site):
    """Lay out site-packages/: sb/, sb/_vendor/<pkg>/, sb/demo_data/*.db."""
    package = os.path.join(site, "sb")
    shutil.copytree(os.path.join(HERE, "src", "sb"), package, ignore=IGNORE)
    vendored = os.path.join(package, "_vendor")
    os.makedirs(vendored)
    with open(os.path.join(vendored, "__init__.py"), "w") as handle:
        handle.write('"""Pure-Python packages vendored from vendor/ (see vendor/vendor.txt)."""\n')
    for name in sorted(os.listdir(os.path.join(HERE, "vendor"))):
        source = os.path.join(HERE, "vendor", name)
        if os.path.isdir(source) and not name.startswith((".", "_")):
            shutil.copytree(source, os.path.join(vendored, name), ignore=IGNORE)
    shutil.copytree(os.path.join(HERE, "fixtures", "demo"), os.path.join(package, "demo_data"),
                    ignore=shutil.ignore_patterns("*.md"))


def replace_main(pyz):
    """Swap shiv's __main__.py for ours (keeping the shebang prefix and every other entry)."""
    with open(pyz, "rb") as handle:
        blob = handle.read()
    prefix = blob[:blob.index(b"PK\x03\x04")]
    with open(os.path.join(HERE, "tools", "zipapp_main.py"), "rb") as handle:
        main = handle.read()
    rebuilt = pyz + ".tmp"
    with zipfile.ZipFile(pyz) as old, open(rebuilt, "wb") as raw:
        raw.write(prefix)
        with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as new:
            for info in old.infolist():
                data = main if info.filename == "__main__.py" else old.read(info)
                new.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    os.chmod(rebuilt, 0o755)
    os.replace(rebuilt, pyz)


def build(output):
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        site = os.path.join(work, "site-packages")
        stage(site)
        subprocess.run([sys.executable, "-m", "shiv", "--site-packages", site, "--entry-point", "sb.cli:main",
                        "--python", "/usr/bin/env python3", "--output-file", output, "--reproducible",
                        "--compressed"], check=True, stdout=subprocess.DEVNULL)
    replace_main(output)
    return output


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(HERE, "dist", "slurm-sb.pyz"))
    path = build(parser.parse_args().output)
    print("built {} ({:,} bytes)".format(os.path.relpath(path), os.path.getsize(path)))
