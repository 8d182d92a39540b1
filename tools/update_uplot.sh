#!/usr/bin/env bash
# Vendor a pinned uPlot (the report's chart library) from the npm registry: the minified IIFE build, its CSS
# and LICENSE into vendor/uplot/, and its pin and sha256 into vendor/vendor.txt.
#   bash tools/update_uplot.sh 1.6.32
# Needs npm (only here, never at run time). Check the page afterwards: pytest tests/test_report_browser.py.
set -euo pipefail
version="${1:?usage: $0 VERSION (e.g. 1.6.32)}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "uplot@$version" >/dev/null && tar xzf "uplot-$version.tgz")
dest="$repo/vendor/uplot"
rm -rf "$dest" && mkdir -p "$dest"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$work/package/LICENSE" "$dest/"
tarball_sha="$(sha256sum "$work/uplot-$version.tgz" | cut -d' ' -f1)"
js_sha="$(sha256sum "$dest/uPlot.iife.min.js" | cut -d' ' -f1)"
css_sha="$(sha256sum "$dest/uPlot.min.css" | cut -d' ' -f1)"
line="uplot==$version  # npm uplot-$version.tgz sha256=$tarball_sha; dist/uPlot.iife.min.js sha256=$js_sha; dist/uPlot.min.css sha256=$css_sha"
grep -v '^uplot==' "$repo/vendor/vendor.txt" > "$work/vendor.txt" || true
echo "$line" >> "$work/vendor.txt"
cp "$work/vendor.txt" "$repo/vendor/vendor.txt"
echo "vendored uPlot $version into vendor/uplot/"
