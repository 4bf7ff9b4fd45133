#!/usr/bin/env bash
# Run the whole test suite (CPU, offline): ruff over the whole tree, then pytest. Axolotl's own
# validator and lm-evaluation-harness live in separate venvs (their pins differ from ours); they
# are created on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
. .venv/bin/activate
ruff check .
bash scripts/setup_axolotl_venv.sh
bash scripts/setup_lm_eval_venv.sh
export HF_HUB_OFFLINE=1 WANDB_MODE=offline RAY_AUTH_MODE=disabled
python -m pytest -q -p no:cacheprovider "$@"
