#!/usr/bin/env bash
# System packages some tests use with the real component (CI runs this as root, after install.sh):
# PostgreSQL's server (tests/test_postgres.py starts and stops its own throw-away server) and
# Chromium with its driver (tests/test_report_browser.py opens report.html headless, offline).
# Installs only what is missing; without root it says what it cannot do (those tests then skip).
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup_test_system: not root; missing ${need[*]} (the tests that need them are skipped)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
echo "setup_test_system: installed ${need[*]}"
