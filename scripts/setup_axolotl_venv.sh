#!/usr/bin/env bash
# Create (or repair) .venv-axolotl next to the repository's .venv: Axolotl 0.19 with just
# enough of its dependencies to run its own config validator and prompt tokenizers on CPU.
# tests/test_export.py checks every exported axolotl.yaml with it. Idempotent: a working venv
# is left as it is (instant); otherwise it is built in ~1-3 min (~1.5 GB).
#
#   scripts/setup_axolotl_venv.sh            # uses $PYTHON, else python3 (>= 3.10)
#
# Why a separate venv: Axolotl pins transformers/peft/datasets versions that differ from ours.
# Why --no-deps: its full dependency set pulls CUDA wheels, flash-attn, bitsandbytes, vLLM...
# What is installed and why:
#   torch==2.13.0                     first: the CPU build pip here finds locally (any other
#                                     torch request downloads a multi-GB CUDA build)
#   axolotl==0.19.0 (--no-deps)
#   pydantic transformers accelerate  the minimal set that makes
#   pillow pyyaml addict              `from axolotl.utils.config import validate_config` import
#   datasets colorama                 Axolotl's prompt tokenizers (token-level parity test)
# Versions follow Axolotl 0.19's own pins where it has them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv-axolotl"
py="${PYTHON:-python3}"
export AXOLOTL_DO_NOT_TRACK=1 PIP_DISABLE_PIP_VERSION_CHECK=1

probe() {
  "$venv/bin/python" - <<'EOF' >/dev/null 2>&1
import axolotl
from axolotl.utils.config import validate_config
from axolotl.prompt_strategies import load
from axolotl.prompt_tokenizers import AlpacaPromptTokenizingStrategy
assert axolotl.__version__.startswith("0.19"), axolotl.__version__
EOF
}

# A stamp holding this script's hash skips the ~6 s import probe on every test run; an edit to
# this script (new pins) invalidates it.
stamp="$venv/.setup-stamp"
want="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "ok: $venv"
  exit 0
fi
if [ -x "$venv/bin/python" ] && probe; then
  echo "$want" >"$stamp"
  echo "ok: $venv (axolotl validator importable)"
  exit 0
fi

"$py" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' \
  || { echo "error: $py is older than Python 3.10; set PYTHON=python3.11" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
install() {  # quiet on success; pip's notes on axolotl's unmet pins are expected (--no-deps)
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
install --no-deps "axolotl==0.19.0"
install "pydantic==2.12.5" "transformers==5.16.1" "accelerate==1.13.0" pillow "PyYAML==6.0.3" \
  addict "datasets==4.8.4" colorama

if probe; then
  echo "$want" >"$stamp"
  echo "ok: built $venv"
else
  echo "error: $venv was built but the Axolotl validator does not import:" >&2
  "$venv/bin/python" -c "from axolotl.utils.config import validate_config" >&2 || true
  exit 1
fi
