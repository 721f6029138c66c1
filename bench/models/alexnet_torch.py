"""PyTorch CPU peer for bench/models/alexnet.mjs: the same paper-form AlexNet in torch.nn (groups,
LRN with the paper's literal alpha, i.e. nn.LocalResponseNorm(alpha = 5 * 1e-4), dropout 0.5),
float32, intra-op threads = the number given; training at batch 16 and 64 (torch.optim.SGD,
momentum 0.9, weight decay 5e-4), inference at batch 1 and 32. Prints JSON lines."""
import json

import torch
import torch.nn.functional as F

from torch_peer import AlexNet, device_name, median_time, setup_threads

threads = setup_threads()
DEVICE = device_name(threads)
IMPL = f"pytorch {torch.__version__}"


def emit(row):
    print(json.dumps({"bench": "alexnet", "impl": IMPL, "device": DEVICE, "variant": "paper", **row}), flush=True)


net = AlexNet()
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
net.train()
for batch in (16, 64):
    x = torch.randn(batch, 3, 227, 227)
    y = torch.tensor([(i * 37) % 1000 for i in range(batch)])

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    s = median_time(step, min_s=3.0, warmup=1, iters=3)
    emit({"pass": "train", "batch": batch, "ms": s * 1e3, "images_per_s": batch / s})
net.eval()
with torch.no_grad():
    for batch in (1, 32):
        x = torch.randn(batch, 3, 227, 227)
        s = median_time(lambda: F.softmax(net(x), 1), min_s=2.0, warmup=1, iters=5)
        emit({"pass": "inference", "batch": batch, "ms": s * 1e3, "images_per_s": batch / s})
