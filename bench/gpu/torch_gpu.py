"""PyTorch peer of bench/gpu/step-bench.mjs: AlexNet (paper form) training at batch 128 and LeNet-5
at batch 256 on cuda:0, torch.nn as in scripts/fixtures/torch_nets.py, SGD (momentum 0.9, weight
decay 5e-4), fp32 and TF32. "fp32" turns TF32 off for both matmul and cuDNN (cuDNN's default is
on). Prints JSON lines {bench, impl, device, pass, batch, tf32, ms_per_step, images_per_s}.
    python3 bench/gpu/torch_gpu.py [seconds per measurement]"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from torch_peer import LeNet5, PaperAlexNet, median_time  # noqa: E402

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
DEV = torch.device("cuda:0")
DEVICE = f"cuda:0 ({torch.cuda.get_device_name(0)})"
IMPL = f"pytorch {torch.__version__}"
RUNS = [("alexnet", PaperAlexNet, 128, (3, 227, 227), 1000, 4), ("lenet5", LeNet5, 256, (1, 28, 28), 10, 20)]

torch.manual_seed(0)
for name, make, batch, shape, classes, steps in RUNS:
    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        net = make().to(DEV).train()
        opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        x = torch.randn(batch, *shape, device=DEV)
        y = torch.tensor([(i * 37) % classes for i in range(batch)], device=DEV)

        def run():
            # The same shape of timed run as ours: several steps, then one synchronize.
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x), y).backward()
                opt.step()
            torch.cuda.synchronize()

        s = median_time(run, min_s=SECONDS, warmup=1, iters=3) / steps
        print(json.dumps({"bench": name, "impl": IMPL, "device": DEVICE, "pass": "train", "batch": batch, "tf32": tf32,
                          "ms_per_step": s * 1e3, "images_per_s": batch / s}), flush=True)
        del net, opt, x, y
        torch.cuda.empty_cache()
