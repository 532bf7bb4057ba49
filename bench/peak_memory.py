"""Peak resident memory of SimpleConvNet training (batch 100, 1x28x28, SGD): fastbp
against PyTorch, each in a fresh interpreter.

Reports, per library, the peak resident set of the whole process (``VmHWM``),
what it already held after imports and set-up, and the growth over the training
steps. Run: ``python bench/peak_memory.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys
import numpy as np
lib, steps = sys.argv[1], int(sys.argv[2])

def rss_now():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096

def rss_peak():  # VmHWM: this process image's peak (ru_maxrss would include the parent's
    with open("/proc/self/status") as f:  # before exec)
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))

rng = np.random.default_rng(0)
X = rng.random((100, 1, 28, 28), dtype=np.float32)
y = rng.integers(0, 10, size=100)
if lib == "fastbp":
    from fastbp import losses, optim
    from fastbp.examples.cnn import simple_convnet
    model = simple_convnet(init=0.01, rng=0)
    loss, opt = losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1)
    def step():
        opt.zero_grad(); loss.forward(model(X), y); model.backward(loss.backward()); opt.step()
else:
    import torch
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 30, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(4320, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    tX, ty, crit = torch.from_numpy(X), torch.from_numpy(y), torch.nn.CrossEntropyLoss()
    def step():
        opt.zero_grad(); crit(model(tX), ty).backward(); opt.step()
before = rss_now()
for _ in range(steps):
    step()
peak = rss_peak()
print(json.dumps({"after_setup": before, "peak": peak, "after_steps": rss_now()}))
"""


def measure(lib: str, steps: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, lib, str(steps)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    libs = ["fastbp"]
    try:
        import torch  # noqa: F401
        libs.append("torch")
    except ImportError:
        print("PyTorch not installed: fastbp only")
    mib = 1 << 20
    print(f"| SimpleConvNet, batch 100, {args.steps} steps | after set-up | peak | "
          f"peak - after set-up |\n|---|---|---|---|")
    for lib in libs:
        m = measure(lib, args.steps)
        print(f"| {lib} | {m['after_setup'] / mib:.0f} MiB | {m['peak'] / mib:.0f} MiB "
              f"| {(m['peak'] - m['after_setup']) / mib:.0f} MiB |")


if __name__ == "__main__":
    main()
