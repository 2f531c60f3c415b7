#!/usr/bin/env bash
# A new user's first run, as docs/getting-started.md tells it: clone, the example
# command (which creates .venv and installs the project), then an experiment of one's
# own from `bayesopt init`, run through the flow. Prints each step's wall time.
#
# Usage: bash scripts/first_run.sh [REPO]   (REPO: what to clone; default this checkout)
# BAYESOPT_VENV=/path/to/venv: the environment to create or use instead of the clone's
# .venv (the test passes a new one that borrows its dependencies, so as not to download
# them again; the README's figure is from a run without it, a full install).
set -euo pipefail
REPO="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
start=$SECONDS
step() { echo "== $1 ($((SECONDS - start)) s since the clone began)"; }

git clone --quiet "$REPO" "$WORK/clone"
cd "$WORK/clone"
step "cloned"
bash scripts/run_example.sh --budget 8
step "example run finished"
source scripts/env.sh ""
bayesopt init my_experiment
bayesopt run my_experiment.py --budget 12
step "own experiment finished"
bayesopt status my_experiment.py | tail -n 3
echo "first_run: $((SECONDS - start)) s from clone to the first finished run of one's own experiment"
