"""Resident memory stays flat over many calls: results and workspaces are freed."""

import numpy as np

from fastbp import losses, nn, ops, optim


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def growth_over(fn, calls: int) -> int:
    for _ in range(20):  # warm up: workspaces, allocator pools
        fn()
    before = resident_bytes()
    for _ in range(calls):
        fn()
    return resident_bytes() - before


def test_op_results_are_freed():
    x = np.ones((512, 512), np.float32)  # every result below is 1 MiB
    w = np.ones((512, 512), np.float32)

    def calls():
        ops.linear_forward(x, w, None)
        ops.relu_backward(x, x)
        ops.softmax_cross_entropy(x, np.zeros(512, np.int64))
        ops.conv2d_backward(np.ones((2, 4, 8, 8), np.float32), np.ones((2, 3, 8, 8), np.float32),
                            np.ones((4, 3, 3, 3), np.float32), 1, 1)

    # A leaked result would add >= 3 MiB per round, 1.5 GiB in all.
    assert growth_over(calls, 500) < 64 << 20


def test_training_steps_keep_memory_flat():
    rng = np.random.default_rng(0)
    X = rng.random((64, 1, 12, 12), dtype=np.float32)
    y = rng.integers(0, 10, size=64)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, rng=0), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(288, 10, rng=1))
    loss = losses.SoftmaxCrossEntropy()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss.forward(model(X), y)
        model.backward(loss.backward())
        opt.step()

    assert growth_over(step, 1000) < 32 << 20
