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

what="the Axolotl validator"
. "$root/scripts/side_venv.sh"
side_venv_ready
side_venv_create
install "torch==2.13.0"
install --no-deps "axolotl==0.19.0"
install "pydantic==2.12.5" "transformers==5.16.1" "accelerate==1.13.0" pillow "PyYAML==6.0.3" \
  addict "datasets==4.8.4" colorama
side_venv_done
