#!/usr/bin/env bash
# Run the whole test suite (CPU, offline). Axolotl's own validator lives in a separate venv
# (its pins differ from ours); it is created on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
if [ -f scripts/setup_axolotl_venv.sh ]; then bash scripts/setup_axolotl_venv.sh; fi
export HF_HUB_OFFLINE=1 WANDB_MODE=offline RAY_AUTH_MODE=disabled
python -m pytest -q -p no:cacheprovider "$@"
