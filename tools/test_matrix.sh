#!/usr/bin/env bash
# Run the fast tests (curses board on a pty included) under every interpreter 3.6 .. 3.13 but 3.11, which runs
# the full suite already; the built pyz is tested on 3.6, 3.9, 3.11, 3.13 by tests/test_pyz.py.
# Absent interpreters are named, not hidden.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
status=0
for version in 3.6 3.7 3.8 3.9 3.10 3.12 3.13; do
  python=$(ls -d "$root"/versions/"$version".*/bin/python3 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$python" ]; then
    echo "Python $version: not installed on this machine, skipped"
    continue
  fi
  venv=$(mktemp -d)/venv
  constraints=()
  [ "$version" = 3.6 ] && constraints=(-c tools/py36-test-constraints.txt)  # its pip cannot pick these itself
  "$python" -m venv "$venv" && "$venv/bin/python" -m pip install -q --disable-pip-version-check \
      "${constraints[@]}" pytest hypothesis pyte \
    || { echo "Python $version: could not install pytest"; status=1; continue; }
  echo "== Python $version ($python)"
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not slow" tests || status=1
  rm -rf "$(dirname "$venv")"
done
exit $status
