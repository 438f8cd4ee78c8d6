#!/usr/bin/env bash
# Install the project into .venv and run every check: ruff, mypy, pytest (both backends).
# The same command the README gives and .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "scripts/test.sh: $*" >&2; exit 1; }

[ -d ../shared/data ] || fail "the real data is missing: ../shared must sit beside the repo"
command -v python3 >/dev/null || fail "python3 is not installed"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || fail "Python >= 3.11 is required"

# PostgreSQL at 127.0.0.1:5432 backs half the storage tests: start it when it is down.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "PostgreSQL is down; starting it"
  if command -v pg_ctlcluster >/dev/null; then
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "${version:-15}" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -q -h 127.0.0.1 -p 5432 || fail "PostgreSQL at 127.0.0.1:5432 could not be started"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

echo "== dbt manifest"
.venv/bin/weather-edge dbt-prepare
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -n 2 --ignore=weather_edge_tests/reliability "$@"
echo "== reliability (alone: it restarts the shared PostgreSQL)"
.venv/bin/pytest -s weather_edge_tests/reliability "$@"
