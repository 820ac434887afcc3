#!/usr/bin/env bash
# Sets up .venv with the reportqa command; with --test also what the test suite needs
# (Debian's chromium and chromedriver for the browser test, and CJK fonts so its
# screenshots show Chinese, not boxes). Safe to run again: it
# reinstalls only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
stamp=.venv/.reportqa-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setting up .venv (the first time takes a few minutes)" >&2
    # -qq: errors only; pip and the build backend otherwise print pages of notices.
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    .venv/bin/python -m pip install -qq --upgrade pip
    # torch first, pinned: 2.13.0 is the CPU build on this disk; an unpinned torch
    # pulled in by sentence-transformers would download a multi-GB CUDA build.
    .venv/bin/python -m pip install -qq torch==2.13.0
    .venv/bin/python -m pip install -qq -e '.[test]'
    touch "$stamp"
    echo ".venv is ready: .venv/bin/reportqa --help" >&2
fi

if [ "${1:-}" = "--test" ] && ! command -v chromedriver >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing chromium and chromium-driver for the browser test" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "warning: chromium/chromedriver missing and cannot be installed here; the browser test will be skipped" >&2
    fi
fi
if [ "${1:-}" = "--test" ] && command -v fc-list >/dev/null 2>&1 && ! fc-list :lang=zh | grep -q .; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing fonts-noto-cjk so the page's screenshots render Chinese" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null 2>&1 || {
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; }
    fi
fi
