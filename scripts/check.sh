#!/usr/bin/env bash
# Lint, type-check, layer contract and the whole test suite (sets up .venv first if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"
ruff check src tests benchmarks lint
ruff format --check src tests benchmarks lint
mypy
lint-imports
python lint/sizes.py  # for information: the longest modules and fullest folders; never fails
pytest -q -p no:cacheprovider "$@"
