#!/usr/bin/env bash
# What a pip user gets: a scratch venv with `pip install .` (not editable, no extras), run from a
# folder outside the checkout. It must sweep the shipped sample (the configs, search spaces and
# sample data come from the installed package) and read every own-data format (CSV, Parquet,
# JSON, JSONL) without any other install. .ci/run calls it; ~2-4 min (pip's cache helps).
#
#   scripts/check_install.sh [VENV_DIR]      # default: a fresh temporary folder
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
work="$(mktemp -d)"
venv="${1:-$work/venv}"
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1 HF_HUB_OFFLINE=1 WANDB_MODE=offline TOKENIZERS_PARALLELISM=false

"$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q "torch==2.13.0"   # the CPU build on this machine's disk first
"$venv/bin/python" -m pip install -q "$root"           # not editable, no extras
cd "$work"                                             # outside the checkout: nothing found by accident
export SWEEP_CACHE_DIR="$work/cache"
"$venv/bin/python" - <<'PY'
import sweep.config as c
assert str(c.CONF_DIR).startswith(str(c.PACKAGE_DIR)), c.CONF_DIR  # from the installed package
print("configs:", c.CONF_DIR)
PY
sweep() { "$venv/bin/python" -m sweep model=tiny_llama search_space=quick n_trials=2 +fixed.max_steps=4 \
            train.eval_every=2 eval.max_examples=4 eval.max_new_tokens=8 eval.rag=false "$@"; }
sweep study_name=sample >/dev/null                                      # the shipped sample
test -s outputs/sample/best.yaml && test -s outputs/sample/axolotl.yaml && test -s outputs/sample/behaviour.csv
"$venv/bin/python" - <<'PY'
import csv, json
import pyarrow as pa, pyarrow.parquet as pq
rows = [{"instruction": f"What is item {i}?", "input": "", "output": f"Item {i} is a thing."} for i in range(60)]
with open("own.csv", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["instruction", "input", "output"]); w.writeheader(); w.writerows(rows)
pq.write_table(pa.Table.from_pylist(rows), "own.parquet")
json.dump(rows, open("own.json", "w"))
open("own.jsonl", "w").write("".join(json.dumps(r) + "\n" for r in rows))
PY
for f in own.csv own.parquet own.json own.jsonl; do
  sweep study_name="own_${f#own.}" data.path="$f" >/dev/null
  test -s "outputs/own_${f#own.}/best.yaml"
  echo "own data $f: ok"
done
echo "ok: pip install . (no extras) swept the sample and read CSV, Parquet, JSON and JSONL from $work"
