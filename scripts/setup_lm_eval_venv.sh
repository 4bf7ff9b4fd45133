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

what="lm_eval"
. "$root/scripts/side_venv.sh"
side_venv_ready
side_venv_create
install "torch==2.13.0"
install "lm-eval[hf]==0.4.13"
side_venv_done
