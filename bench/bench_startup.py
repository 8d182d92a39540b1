#!/usr/bin/env python3
"""Start-up time of the built pyz (`slurm-sb.pyz --version`, warm shiv cache) under each interpreter found.

Usage: python3 bench/bench_startup.py [--runs 21] [--pyz dist/slurm-sb.pyz]. Builds the pyz first if it is
missing. Prints the median and min per interpreter, beside the bare interpreter's own start (`-c pass`).
"""
import argparse
import glob
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def timed(argv, runs):
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warm caches (shiv, pyc)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1e3, min(times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--pyz", default=os.path.join(REPO, "dist", "slurm-sb.pyz"))
    args = parser.parse_args()
    if not os.path.exists(args.pyz):
        subprocess.run([sys.executable, os.path.join(REPO, "build.py"), "--output", args.pyz], check=True)
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    print("pyz: {} ({:,} bytes); {} runs each; target: <= 150 ms on 3.6 with a warm cache".format(
        args.pyz, os.path.getsize(args.pyz), args.runs))
    print("{:<8} {:>14} {:>10} {:>22}".format("python", "median ms", "min ms", "bare interpreter ms"))
    for version in ("3.6", "3.9", "3.11", "3.13"):
        found = sorted(glob.glob(os.path.join(root, "versions", version + ".*", "bin", "python3")))
        if not found:
            print("{:<8} not installed here".format(version))
            continue
        median, best = timed([found[-1], args.pyz, "--version"], args.runs)
        bare, _ = timed([found[-1], "-c", "pass"], args.runs)
        print("{:<8} {:>14.0f} {:>10.0f} {:>22.0f}".format(version, median, best, bare))


if __name__ == "__main__":
    main()
