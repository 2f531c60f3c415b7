#!/usr/bin/env bash
# The test command: lint (ruff), format check, type check (mypy), the docs build
# (mkdocs --strict, which runs every tutorial in docs/tutorials), then pytest.
# Creates or reuses .venv and installs what it needs. Extra arguments go to pytest;
# --quick (first) runs the quick tier: no docs build, and only the tests not marked
# slow (no subprocess runs of the CLI, no servers of their own), for the edit-test loop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh dev,ax,docs
echo "== ruff check"; ruff check bayesopt surrogates flows experiments tests benchmarks docs
echo "== ruff format --check"; ruff format --check bayesopt surrogates flows experiments tests benchmarks docs
echo "== mypy"; mypy
if [ "${1:-}" = "--quick" ]; then
  shift
  set -- -m "not slow" "$@"
else
  # The UI test opens the MLflow UI in headless Chromium (Debian's package).
  if ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium (Debian's package) for the UI test"
    sudo_="" ; [ "$(id -u)" = 0 ] || sudo_="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_ apt-get install -y -q chromium >/dev/null \
      || { $sudo_ apt-get update -q >/dev/null && $sudo_ apt-get install -y -q chromium >/dev/null; }
  fi
  # Into a temporary directory, so that no build output lands in the tree.
  echo "== mkdocs build --strict"
  docs_site="$(mktemp -d)"
  NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir "$docs_site" || { rm -rf "$docs_site"; exit 1; }
  rm -rf "$docs_site"
fi
echo "== pytest"; exec python -m pytest "$@"
