#!/usr/bin/env bash
# Maintainer check of GPU support on a Linux x64 machine with an NVIDIA GPU (CI has none): builds,
# runs the installer's tests, installs the CUDA providers from the real NuGet feed through the same
# module as "Preference Lens: Install GPU Support", then scores a generated model on cuda and on cpu
# (scripts/gpu-check.ts) and fails unless CUDA really did the work and both give the exact rewards.
#
#   bash scripts/gpu-check.sh                     # full check (downloads the NuGet package once, reused after)
#   bash scripts/gpu-check.sh --cpu-only          # everything but the install and the GPU, on any machine
#   bash scripts/gpu-check.sh --storage-dir DIR --feed URL --batch 64 --length 1024 --runs 50
set -euo pipefail
cd "$(dirname "$0")/.."

# Whether the dynamic linker can find a library: its cache, or a folder on LD_LIBRARY_PATH.
has_library() {
  # Not grep -q: quitting early would SIGPIPE ldconfig, which pipefail counts as failure.
  ldconfig -p 2>/dev/null | grep -F "$1" >/dev/null && return 0
  local dir
  IFS=: read -ra dirs <<<"${LD_LIBRARY_PATH:-}"
  for dir in ${dirs[@]+"${dirs[@]}"}; do [[ -n "$dir" && -e "$dir/$1" ]] && return 0; done
  return 1
}

cpu_only=false
for arg in "$@"; do [[ "$arg" == --cpu-only ]] && cpu_only=true; done

if ! $cpu_only; then
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; then
    echo "FAIL: nvidia-smi finds no NVIDIA GPU or driver; run this on a GPU machine, or pass --cpu-only." >&2
    exit 1
  fi
  # Only a hint: the check below says for sure which libraries onnxruntime loaded.
  for lib in libcudart.so.12 libcublas.so.12 libcudnn.so.9; do
    has_library "$lib" || echo "warning: $lib is neither in the linker cache nor on LD_LIBRARY_PATH; the cuda session will likely fail" >&2
  done
fi

[[ -d node_modules/onnxruntime-node ]] || npm ci
echo "== build"
node scripts/build.mjs
echo "== installer tests"
node --import tsx --test test/unit/gpu-install.test.ts
echo "== install and score"
node --import tsx scripts/gpu-check.ts "$@"
