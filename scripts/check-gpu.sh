#!/usr/bin/env bash
# npm run check:gpu
#
# Here (no nvidia-smi): prepares a device run. Builds the CUDA addon, the kernel-check harness
# and dist/, packs this node binary into .device/node.xz, and prints what to carry:
#   .device  build-cuda/Release/convkit_cuda.node  dist
# On a GPU machine (nvidia-smi answers): builds the harness for the local GPU if it is not
# there (cmake + nvcc, no Node needed), runs it (every CUDA kernel against its CPU twin, one JSON
# line per check), loads the carried CUDA addon in the carried node (unpacked to /tmp/node),
# runs one LeNet-5 and one AlexNet training step on cuda:0 and on cpu and compares them
# (bench/gpu/step-check.mjs), runs the data-parallel and NCCL checks (bench/gpu/dp-check.mjs), times SGEMM in PyTorch, and times the two training steps against
# PyTorch on the same card (bench/gpu/step-bench.mjs + torch_gpu.py). Every result is a JSON
# line; the whole run stays under 8 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
status=0

json() { printf '%s\n' "$1"; }

# Every step's timeout is capped by what is left of the whole run's 470 s (under 8 minutes).
deadline=$((SECONDS + 470))
limit() { local left=$((deadline - SECONDS)); [ "$left" -lt "$1" ] && echo $((left > 1 ? left : 1)) || echo "$1"; }

prepare() {
  command -v nvcc >/dev/null || { json '{"step":"prepare","pass":false,"detail":"nvcc not found: cannot build the CUDA addon here"}'; exit 1; }
  start=$(date +%s)
  node scripts/build-cuda.mjs || { json '{"step":"build","pass":false}'; exit 1; }
  json "{\"step\":\"build\",\"pass\":true,\"seconds\":$(( $(date +%s) - start ))}"
  npx tsc -p tsconfig.build.json || { json '{"step":"dist","pass":false}'; exit 1; }
  mkdir -p .device
  rm -f .device/node .device/convkit_cuda.node  # an unpacked node, or a second addon, would push the carry past its limit
  [ -f .device/node.xz ] && [ .device/node.xz -nt "$(command -v node)" ] || xz -T2 -c "$(command -v node)" > .device/node.xz
  # The harness, outside the ignored build folder's object files; the addon travels in place
  # (build-cuda/Release), where dist/native.js looks for it.
  cp build-cuda/Release/kernel_check .device/
  du -b .device/* build-cuda/Release/convkit_cuda.node | awk '{printf "{\"step\":\"pack\",\"file\":\"%s\",\"bytes\":%s}\n", $2, $1}'
  json "{\"step\":\"pack\",\"file\":\"dist\",\"bytes\":$(du -sb dist | cut -f1)}"
  json '{"step":"carry","paths":[".device","build-cuda/Release/convkit_cuda.node","dist"],"then":"bash scripts/check-gpu.sh","note":"the GPU machine rebuilds the harness for its own GPU when the carried one does not run"}'
}

# The folder of a cublas_v2.h from the pip wheels (CUDA 13: nvidia/cu13/include), if any.
cublas_include() {
  local d sub inc=""
  for d in $(python3 -c 'import site; print(" ".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null); do
    for sub in cu13/include cublas/include; do
      [ -f "$d/nvidia/$sub/cublas_v2.h" ] && inc="$d/nvidia/$sub"
    done
  done
  [ -z "$inc" ] && [ -f /usr/local/cuda/include/cublas_v2.h ] && inc=/usr/local/cuda/include
  echo "$inc"
}

# Our header-free cuBLAS declarations (native/cuda/cublas_api.h) against the real header.
check_cublas_decls() {
  local inc
  inc=$(cublas_include)
  if [ -z "$inc" ]; then
    json '{"step":"cublas-decls","skipped":true,"reason":"no cublas_v2.h found"}'
    return
  fi
  if timeout "$(limit 60)" g++ -std=c++17 -fsyntax-only -DCONVKIT_CHECK_CUBLAS_DECLS=1 -I"$inc" \
      -I/usr/local/cuda/include -Inative native/cuda/cublas_decl_check.cc 2>.device/cublas-decls.log; then
    json "{\"step\":\"cublas-decls\",\"pass\":true,\"header\":\"$inc/cublas_v2.h\"}"
  else
    json "{\"step\":\"cublas-decls\",\"pass\":false,\"header\":\"$inc/cublas_v2.h\",\"log\":\".device/cublas-decls.log\"}"
    status=1
  fi
}

# A harness that runs on this machine: the carried one if it links here, else one built now.
harness() {
  if [ -x .device/kernel_check ] && ! ldd .device/kernel_check 2>&1 | grep -q 'not found'; then
    echo .device/kernel_check
    return
  fi
  local arch inc="" nvcc
  # nvcc may come from the CUDA toolkit or from the nvidia-cuda-nvcc wheel.
  nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || python3 -c 'import nvidia, os; p = list(nvidia.__path__)[0]; print(next((c for c in (os.path.join(p, "cu13", "bin", "nvcc"), os.path.join(p, "cuda_nvcc", "bin", "nvcc")) if os.path.exists(c)), ""))' 2>/dev/null)
  [ -x "$nvcc" ] && export CUDACXX="$nvcc"
  arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
  inc=$(cublas_include)
  timeout "$(limit 120)" cmake -S . -B build-cuda-check -DCONVKIT_BUILD_ADDON=OFF -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="${arch:-90}" -DCONVKIT_CUBLAS_INCLUDE="$inc" >&2 &&
    timeout "$(limit 240)" cmake --build build-cuda-check --parallel "$(nproc)" >&2 &&
    echo build-cuda-check/Release/kernel_check
}

gpu() {
  mkdir -p .device
  json "{\"step\":\"device\",\"gpu\":\"$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)\"}"
  local h
  h=$(harness) || { json '{"step":"harness-build","pass":false}'; exit 1; }
  json "{\"step\":\"harness\",\"path\":\"$h\"}"
  check_cublas_decls
  timeout "$(limit 180)" "$h" --gemm
  local rc=$?
  json "{\"step\":\"kernel_check\",\"exit\":$rc,\"pass\":$([ $rc -eq 0 ] && echo true || echo false)}"
  [ $rc -eq 0 ] || status=1

  local addon="$root/build-cuda/Release/convkit_cuda.node" node=/tmp/node
  if [ -f .device/node.xz ] && [ -f "$addon" ] && [ -f dist/index.js ]; then
    # Outside the repo: an unpacked node (~100 MB) must never travel back or be carried again.
    xz -dc .device/node.xz > "$node" && chmod +x "$node"
    # Named explicitly: the copied sources may look newer than the carried addon, which would
    # make dist/native.js skip it as stale.
    export CONVKIT_ADDON="$addon"
    timeout "$(limit 60)" "$node" -e '
      const a = require(process.argv[1]);
      const s = a.cudaStatus();
      let cublas; try { cublas = a.cudaLoadCublas(); } catch (e) { cublas = { code: e.code, message: e.message }; }
      console.log(JSON.stringify({ step: "addon", build: a.build, status: s, cublas, pass: s.available && !!cublas.path }));
      process.exit(s.available && cublas.path ? 0 : 1);
    ' "$addon" || status=1

    # The same LeNet-5 and AlexNet training steps on cuda:0 and on cpu: loss, gradients, update.
    timeout "$(limit 150)" "$node" bench/gpu/step-check.mjs
    rc=$?
    json "{\"step\":\"step-check\",\"exit\":$rc,\"pass\":$([ $rc -eq 0 ] && echo true || echo false)}"
    [ $rc -eq 0 ] || status=1

    # Data parallel: a one-rank NCCL communicator, 2 members on one GPU through copy+reduce (and
    # through NCCL >= 2.30 with NCCL_MULTI_RANK_GPU_ENABLE=1), DataParallel over every GPU == one.
    # NCCL comes from the nvidia-nccl-cu13 wheel beside PyTorch when no libnccl.so.2 is installed.
    timeout "$(limit 120)" "$node" bench/gpu/dp-check.mjs
    rc=$?
    json "{\"step\":\"dp-check\",\"exit\":$rc,\"pass\":$([ $rc -eq 0 ] && echo true || echo false)}"
    [ $rc -eq 0 ] || status=1
  else
    json '{"step":"addon","skipped":true,"reason":".device/node.xz, build-cuda/Release/convkit_cuda.node or dist/ not carried"}'
  fi

  timeout "$(limit 120)" python3 - <<'PY' || json '{"step":"torch-gemm","skipped":true,"reason":"PyTorch timing failed"}'
import json, time, torch
dev = torch.device("cuda")
for n in (512, 1024, 2048, 4096):
    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a = torch.zeros(n, n, device=dev); b = torch.zeros(n, n, device=dev)
        for _ in range(3): a @ b
        torch.cuda.synchronize()
        reps = 50 if n <= 1024 else 10
        t = time.perf_counter()
        for _ in range(reps): a @ b
        torch.cuda.synchronize()
        s = (time.perf_counter() - t) / reps
        print(json.dumps({"bench": "sgemm", "impl": "torch " + torch.__version__, "M": n, "N": n, "K": n,
                          "tf32": tf32, "ms": round(s * 1e3, 4), "gflops": round(2 * n**3 / s / 1e9, 1)}), flush=True)
PY

  # Training-step throughput against PyTorch on this card (fp32 and TF32), with ratios.
  if [ -x "$node" ] && [ -f dist/index.js ]; then
    timeout "$(limit 240)" "$node" bench/gpu/step-bench.mjs --seconds 2 ||
      json '{"step":"step-bench","pass":false,"reason":"bench/gpu/step-bench.mjs failed or ran out of time"}'
  fi
}

if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  gpu
else
  prepare
fi
exit $status
