#!/usr/bin/env bash
# Runs experiments/branin.py end to end: the Prefect flow decides with a GP and
# BoTorch, stores trials in runs/branin.db and tracks the run in runs/mlflow.db.
# Creates or reuses .venv and installs what it needs. Extra arguments go to
# `bayesopt run` (e.g. --budget 40).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh ""
exec bayesopt run experiments/branin.py "$@"
