#!/usr/bin/env bash
# Runs the peer comparison (this project vs Ax, Optuna and random search); installs the
# `bench` extra (ax-platform, optuna) into .venv first. Extra arguments go to the
# script (e.g. --quick).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh dev,bench
exec python benchmarks/compare_peers.py "$@"
