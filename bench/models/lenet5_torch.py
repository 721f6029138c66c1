"""PyTorch CPU peer for bench/models/lenet5.mjs: the same modern LeNet-5 (torch.nn), the same
batch sizes, float32, intra-op threads = the number given. Prints JSON lines."""
import json
import os
import platform
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else os.cpu_count()
torch.set_num_threads(threads)
torch.manual_seed(0)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


DEVICE = f"cpu:0 ({cpu_model()}, {threads} threads)"


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5, padding=2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.f7 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c3(x)), 2)
        x = F.relu(self.c5(x)).flatten(1)
        return self.f7(F.relu(self.f6(x)))


def median_time(fn, min_s=1.0, warmup=3):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_s or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


net = LeNet5()
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
for batch in (64, 256):
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    s = median_time(step)
    print(json.dumps({"bench": "lenet5", "impl": f"pytorch {torch.__version__}", "device": DEVICE, "pass": "train", "batch": batch, "ms": s * 1e3, "images_per_s": batch / s}))
net.eval()
with torch.no_grad():
    for batch in (1, 256):
        x = torch.randn(batch, 1, 28, 28)
        s = median_time(lambda: net(x))
        print(json.dumps({"bench": "lenet5", "impl": f"pytorch {torch.__version__}", "device": DEVICE, "pass": "inference", "batch": batch, "ms": s * 1e3, "images_per_s": batch / s}))
