"""PyTorch CPU peer for bench/models/lenet5.mjs: the same modern LeNet-5 (torch.nn), the same
batch sizes, float32, intra-op threads = the number given. Prints JSON lines."""
import json

import torch
import torch.nn.functional as F

from torch_peer import LeNet5, device_name, median_time, setup_threads

threads = setup_threads()
DEVICE = device_name(threads)


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
