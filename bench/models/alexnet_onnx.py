"""Writes the paper-form AlexNet (scripts/fixtures/torch_nets.py, eval mode, random weights) as
ONNX to argv[1], with a dynamic batch axis, for the onnxruntime-node peer in alexnet.mjs.
Timing does not depend on the weights' values, so they are torch's default initialization."""
import sys

import torch

from torch_peer import PaperAlexNet

torch.manual_seed(0)
net = PaperAlexNet().eval()
torch.onnx.export(net, torch.randn(1, 3, 227, 227), sys.argv[1], input_names=["x"], output_names=["logits"],
                  dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
