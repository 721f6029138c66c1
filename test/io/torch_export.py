"""Writes random PyTorch weights as safetensors state dicts (by hand: 8-byte little-endian header
length, JSON header, raw little-endian data; no safetensors package needed), an input batch and
torch's logits for it, for test/io/torch-weights.test.ts.

torchvision may be absent, so AlexNet is written here in plain torch.nn exactly as
torchvision.models.alexnet defines it (features / avgpool / classifier, same indices). The LeNet-5
twin is scripts/fixtures/torch_nets.py's LeNet5, the oracle the other fixtures use."""
import json
import os
import struct
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "fixtures"))
from torch_nets import LeNet5  # noqa: E402


class TorchvisionAlexNet(nn.Module):
    """torchvision.models.alexnet (torchvision/models/alexnet.py), num_classes and dropout as there."""

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}


def save_safetensors(path, tensors):
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        # bytes through an int16/uint8 view: numpy has no bfloat16
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype in (torch.float16, torch.bfloat16) else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


def main(out):
    torch.manual_seed(0)
    nets = {"alexnet": (TorchvisionAlexNet(), (2, 3, 224, 224)), "lenet5": (LeNet5(), (3, 1, 28, 28))}
    counts = {}
    for name, (net, shape) in nets.items():
        net.eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            logits = net(x)
        save_safetensors(os.path.join(out, f"{name}.safetensors"), net.state_dict())
        save_safetensors(os.path.join(out, f"{name}.io.safetensors"), {"x": x, "logits": logits})
        counts[name] = sum(p.numel() for p in net.parameters())
    lenet = nets["lenet5"][0]
    save_safetensors(os.path.join(out, "lenet5.f16.safetensors"), {k: v.half() for k, v in lenet.state_dict().items()})
    save_safetensors(os.path.join(out, "lenet5.bf16.safetensors"), {k: v.bfloat16() for k, v in lenet.state_dict().items()})
    print(json.dumps({"torch": torch.__version__, "parameters": counts}))


if __name__ == "__main__":
    main(sys.argv[1])
