#!/usr/bin/env bash
# Create (or repair) .venv-lmeval next to the repository's .venv: lm-evaluation-harness 0.4.13
# with its HF backend on a CPU torch. tests/test_lm_eval.py runs the task a sweep exports
# (<study>/lm_eval/) with the real `lm_eval` command on a tiny local model and its adapter,
# offline. Idempotent: a working venv is left as it is (instant); otherwise built in ~1-3 min.
#
#   scripts/setup_lm_eval_venv.sh            # uses $PYTHON, else python3 (>= 3.10)
#
# Why a separate venv: lm-eval is a consumer of our export, not a dependency; its pins (datasets,
# evaluate, scikit-learn ...) are its own. torch==2.13.0 goes in first: the CPU build pip finds
# on this machine's disk (any other torch request downloads a multi-GB CUDA build).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-lmeval"
py="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

probe() {
  "$venv/bin/python" - <<'PY' >/dev/null 2>&1
import lm_eval, peft, transformers
from lm_eval import simple_evaluate
assert lm_eval.__version__ == "0.4.13", lm_eval.__version__
PY
}

stamp="$venv/.setup-stamp"
want="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "ok: $venv"
  exit 0
fi
if [ -x "$venv/bin/python" ] && probe; then
  echo "$want" >"$stamp"
  echo "ok: $venv (lm_eval importable)"
  exit 0
fi

"$py" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' \
  || { echo "error: $py is older than Python 3.10; set PYTHON=python3.11" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
install() {
  local log
  log="$(mktemp)"
  if ! "$venv/bin/python" -m pip install --quiet "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "error: pip install $* failed" >&2
    exit 1
  fi
  rm -f "$log"
}
echo "building $venv ..."
install "torch==2.13.0"
install "lm-eval[hf]==0.4.13"

if probe; then
  echo "$want" >"$stamp"
  echo "ok: built $venv"
else
  echo "error: $venv was built but lm_eval does not import:" >&2
  "$venv/bin/python" -c "import lm_eval" >&2 || true
  exit 1
fi
