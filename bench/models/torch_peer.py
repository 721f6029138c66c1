"""Helpers of bench/gpu/torch_gpu.py: thread setup, the device string, median timing, and the
torch.nn twins of convkit's models (scripts/fixtures/torch_nets.py, the ones the parity fixtures
use). The CPU peers of `convkit bench` are peers/torch_peer.py (lib/bench/torch-contender.ts)."""
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "fixtures"))
from torch_nets import LeNet5, PaperAlexNet  # noqa: E402,F401  (re-exported for the peers)


def setup_threads():
    """Intra-op threads from argv[1] (the same count convkit used), else every core."""
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else os.cpu_count()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    return threads


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def device_name(threads):
    return f"cpu:0 ({cpu_model()}, {threads} threads)"


def median_time(fn, min_s=1.0, warmup=3, iters=5):
    """Median seconds per call after `warmup` calls; at least `iters` calls and `min_s` seconds."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_s or len(times) < iters:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]
