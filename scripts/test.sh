#!/usr/bin/env bash
# The test command: lint (ruff), format check, type check (mypy), then pytest.
# Creates or reuses .venv and installs what it needs. Extra arguments go to pytest;
# --quick (first) runs the quick tier: the tests not marked slow (no subprocess
# runs of the CLI, no servers of their own), for the edit-test loop.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh dev,ax
echo "== ruff check"; ruff check bayesopt surrogates flows experiments tests benchmarks
echo "== ruff format --check"; ruff format --check bayesopt surrogates flows experiments tests benchmarks
echo "== mypy"; mypy
if [ "${1:-}" = "--quick" ]; then
  shift
  set -- -m "not slow" "$@"
fi
echo "== pytest"; exec python -m pytest "$@"
