# Sourced by the project's commands: creates or reuses .venv and installs what it needs.
# Usage: source scripts/env.sh [extras]   (extras: a comma list such as "dev" or "dev,bench")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BAYESOPT_VENV:-$ROOT/.venv}"
EXTRAS="${1:-}"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.13 python3.12 python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY="$cand"; break
    fi
  done
fi
[ -n "$PY" ] || { echo "error: Python 3.11 or newer is required (none found on PATH)" >&2; exit 1; }
if [ ! -x "$VENV/bin/python" ]; then
  echo "creating virtual environment in $VENV" >&2
  "$PY" -m venv "$VENV"
fi
STAMP="$VENV/.bayesopt-install-${EXTRAS//,/-}"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/scripts/env.sh" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "installing the project into $VENV (first run takes a few minutes)" >&2
  pipq() { "$VENV/bin/python" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
  pipq --upgrade pip
  # A CPU-only torch is enough for the project; take 2.13.0 first so that the
  # resolver does not pull a multi-GB CUDA build when a CPU wheel is available locally.
  if ! "$VENV/bin/python" -c 'import torch' >/dev/null 2>&1; then
    pipq "torch==2.13.0" || pipq "torch>=2.5"
  fi
  spec="$ROOT"
  [ -n "$EXTRAS" ] && spec="$ROOT[$EXTRAS]"
  pipq -e "$spec"
  echo "$WANT" > "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
export VIRTUAL_ENV="$VENV"
