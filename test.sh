#!/usr/bin/env bash
# Set up (once) and run the tests:  bash test.sh [pytest options]   (CI: .ci/run)
# The tests also need the test packages and a Chromium for the page's browser test, which this installs
# with apt-get where it is missing (Debian/Ubuntu). The environment is reused; README「两条命令」.
set -euo pipefail
cd "$(dirname "$0")"
. scripts/env.sh requirements-test.txt
# Debian/Ubuntu packages the tests use: Chromium (the page's browser test) and unicode-data (the Unihan files that
# tests/test_hanzi.py rebuilds data/unihan_names.tsv from).
missing=()
if [ -z "${CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  missing+=(chromium)
fi
ls /usr/share/unicode/Unihan*.zip /usr/share/unicode/Unihan_Readings.txt* >/dev/null 2>&1 || missing+=(unicode-data)
# npm fetches the chinese-poetry package that tests/test_sources.py rebuilds data/name_sources.tsv from
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "== apt-get install ${missing[*]}"
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" > /dev/null
  else
    echo "missing ${missing[*]} and no apt-get: install them (or set CHROMIUM=/path/to/chromium)" >&2
  fi
fi
python -c "import torch, transformers, datasets, accelerate; print('torch', torch.__version__, '| transformers', transformers.__version__, '| datasets', datasets.__version__, '| accelerate', accelerate.__version__)"
exec python -m pytest "${@:--v}"
