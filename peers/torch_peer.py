"""The PyTorch peer of `convkit bench` (lib/bench/torch-contender.ts), a long-lived process that
times the torch.nn twins of convkit's models (scripts/fixtures/torch_nets.py, the ones the parity
fixtures check) one round at a time, so the bench can take its rounds in turns with convkit's.

Usage: python3 torch_peer.py THREADS. It answers each JSON line on stdin with one on stdout:
  {"op": "prepare", "model": "lenet5", "variant": "modern", "pass": "train", "batch": 64}
      -> {"ok": true} or {"ok": false, "reason": "..."} (no twin of that form, say)
  {"op": "run", "iters": N}   -> {"ok": true, "seconds": S}: N batches of the prepared case
  {"op": "release"}           -> {"ok": true}
  {"op": "peak_rss"}          -> {"ok": true, "mib": M}: this process's peak resident memory so far
  {"op": "export_onnx", "model": ..., "variant": ..., "path": FILE} -> {"ok": true}: the twin in
      eval mode with a dynamic batch axis (input "x", output "logits"), for the onnxruntime peer
  {"op": "quit"}
The first line it prints says whether torch imported, its version and its thread count.
Timing does not depend on the weights' values, so they are torch's default initialization.
"""
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts", "fixtures"))

INPUT = {("lenet5", "modern"): (1, 28, 28), ("alexnet", "paper"): (3, 227, 227), ("alexnet", "owt"): (3, 224, 224)}
CLASSES = {"lenet5": 10, "alexnet": 1000}


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def blas_in_use():
    """The BLAS libraries this process has mapped (torch loaded them on import) and what they are.
    Debian's python3-torch calls whichever libblas.so.3 the alternatives system points at; with
    only libblas3 installed that is the reference (netlib) BLAS, several times slower than
    OpenBLAS, and a peer on it would make convkit's ratios flatter it (the bench warns)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
    except OSError:
        return {"libraries": [], "kind": "unknown"}
    libs = sorted({os.path.realpath(p) for p in paths})
    if any("openblas" in p for p in libs):
        kind = "openblas"
    elif any("/blas/" in p for p in libs):  # Debian's netlib build lives in .../blas/; BLIS and others elsewhere
        kind = "reference"
    else:
        kind = "other" if libs else "none"
    return {"libraries": libs, "kind": kind}


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else os.cpu_count()
    try:
        import torch
        import torch.nn.functional as F
        from torch_nets import LeNet5, OwtAlexNet, PaperAlexNet
    except Exception as e:  # no torch, or no twins beside this file: the bench prints why
        reply({"ok": False, "reason": f"{type(e).__name__}: {e}"})
        return
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    makers = {("lenet5", "modern"): LeNet5, ("alexnet", "paper"): PaperAlexNet, ("alexnet", "owt"): OwtAlexNet}
    nets = {}
    case = {}

    def net_for(model, variant):
        key = (model, variant)
        if key not in makers:
            return None
        if key not in nets:
            nets.clear()  # one form at a time: AlexNet's weights are 240 MB
            nets[key] = makers[key]()
        return nets[key]

    def prepare(req):
        net = net_for(req["model"], req["variant"])
        if net is None:
            return {"ok": False, "reason": f"no torch.nn twin of {req['model']} {req['variant']} (scripts/fixtures/torch_nets.py)"}
        batch = int(req["batch"])
        x = torch.randn(batch, *INPUT[(req["model"], req["variant"])])
        if req["pass"] == "train":
            net.train()
            y = torch.tensor([(i * 37) % CLASSES[req["model"]] for i in range(batch)])
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

            def step():
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(net(x), y).backward()
                opt.step()
        else:
            net.eval()

            def step():
                with torch.no_grad():
                    F.softmax(net(x), 1)
        case["step"] = step
        return {"ok": True}

    def run(req):
        step = case["step"]
        t0 = time.perf_counter()
        for _ in range(int(req["iters"])):
            step()
        return {"ok": True, "seconds": time.perf_counter() - t0}

    def export_onnx(req):
        net = net_for(req["model"], req["variant"])
        if net is None:
            return {"ok": False, "reason": f"no torch.nn twin of {req['model']} {req['variant']} to export"}
        net.eval()
        shape = INPUT[(req["model"], req["variant"])]
        torch.onnx.export(net, torch.randn(1, *shape), req["path"], input_names=["x"], output_names=["logits"],
                          dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
        return {"ok": True}

    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    reply({"ok": True, "version": torch.__version__, "threads": torch.get_num_threads(), "env": env,
           "blas": blas_in_use()})
    def peak_rss(_req):
        # ru_maxrss is in KiB on Linux.
        return {"ok": True, "mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}

    ops = {"prepare": prepare, "run": run, "release": lambda req: (case.clear(), {"ok": True})[1],
           "export_onnx": export_onnx, "peak_rss": peak_rss}
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("op") == "quit":
            break
        try:
            reply(ops[req["op"]](req))
        except Exception as e:  # a failed case is reported on its line; the peer lives on
            reply({"ok": False, "reason": f"{type(e).__name__}: {e}"})


main()
