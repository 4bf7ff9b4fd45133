# Sourced by the scripts that build a tool's own venv next to .venv (setup_axolotl_venv.sh,
# setup_lm_eval_venv.sh): each defines `venv`, `py`, `what` (a word for the messages) and a
# `probe` function that succeeds when the tool works, then calls `side_venv_ready` (exits 0 when
# the venv is already good), `side_venv_create`, its `install` lines, and `side_venv_done`.
# A stamp holding the calling script's hash skips the probe on every test run; an edit to that
# script (new pins) invalidates it.

side_venv_ready() {
  stamp="$venv/.setup-stamp"
  want="$(sha256sum "$0" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "ok: $venv"
    exit 0
  fi
  if [ -x "$venv/bin/python" ] && probe; then
    echo "$want" >"$stamp"
    echo "ok: $venv ($what importable)"
    exit 0
  fi
}

side_venv_create() {
  "$py" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' \
    || { echo "error: $py is older than Python 3.10; set PYTHON=python3.11" >&2; exit 1; }
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  echo "building $venv ..."
}

install() {  # quiet on success; the log on failure
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

side_venv_done() {
  if probe; then
    echo "$want" >"$stamp"
    echo "ok: built $venv"
  else
    echo "error: $venv was built but $what does not import" >&2
    exit 1
  fi
}
