"""Python threads: concurrent calls (the GIL is released around compute) give
the same bits as serial calls; models training side by side do not disturb
each other; set_num_threads while another thread computes is safe."""

import threading

import numpy as np

import fastbp
from fastbp import losses, nn, ops, optim
from support import num_threads


def run_in_threads(fns):
    """Runs each fn in its own thread, all released at once; returns their results."""
    barrier = threading.Barrier(len(fns))
    results = [None] * len(fns)
    errors = []

    def worker(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except BaseException as e:  # reported in the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
        assert not t.is_alive(), "a worker thread hung"
    if errors:
        raise errors[0]
    return results


def spiral(n_per_class=100, seed=0):
    rng = np.random.default_rng(seed)
    X = np.zeros((3 * n_per_class, 2))
    y = np.repeat(np.arange(3), n_per_class)
    for c in range(3):
        r = np.linspace(0, 1, n_per_class)
        t = np.linspace(4 * c, 4 * (c + 1), n_per_class) + rng.standard_normal(n_per_class) * 0.2
        X[c * n_per_class:(c + 1) * n_per_class] = np.c_[r * np.sin(t), r * np.cos(t)]
    return X.astype(np.float32), y


def train(seed, steps=15, hidden=64):
    X, y = spiral(seed=seed)
    model = nn.Sequential(nn.Linear(2, hidden, rng=seed), nn.ReLU(),
                          nn.Linear(hidden, 3, rng=seed + 1))
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    loss = losses.SoftmaxCrossEntropy()
    for _ in range(steps):
        opt.zero_grad()
        loss(model(X), y)
        model.backward(loss.backward())
        losses.l2_penalty(model, 1e-3)
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def op_calls(rng):
    """A mix of op calls on inputs big enough to use the core's threads."""
    x = rng.standard_normal((256, 300)).astype(np.float32)
    W = rng.standard_normal((300, 200)).astype(np.float32)
    b = rng.standard_normal(200).astype(np.float32)
    labels = rng.integers(0, 200, 256)
    a = rng.standard_normal(300_000)

    def call():
        y = ops.linear_forward(x, W, b)
        h = ops.relu_forward(y)
        loss, d = ops.softmax_cross_entropy(h, labels)
        dx = ops.linear_backward(d, x, W)
        s = ops.sigmoid_forward(a)
        t = ops.tanh_backward(a, ops.tanh_forward(a))
        p, g = a.copy(), np.ones_like(a)
        pen = ops.l2_penalty_accumulate(g, p, 0.1)
        ops.sgd_update(p, g, None, lr=0.01)
        return [y, h, np.float64(loss), d, *dx, s, t, np.float64(pen), p, g]

    return call


def assert_bitwise(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        u, v = np.asarray(u), np.asarray(v)
        assert u.dtype == v.dtype and u.shape == v.shape
        assert u.tobytes() == v.tobytes()


def test_concurrent_op_calls_match_serial_calls():
    calls = [op_calls(np.random.default_rng(seed)) for seed in range(4)]
    with num_threads(2):
        serial = [call() for call in calls]
        for _ in range(2):
            assert_bitwise(sum(run_in_threads(calls), []), sum(serial, []))


def test_same_inputs_from_many_threads():
    call = op_calls(np.random.default_rng(7))
    want = call()
    with num_threads(2):
        for got in run_in_threads([call] * 6):
            assert_bitwise(got, want)


def test_two_models_training_in_two_threads():
    with num_threads(2):
        serial = [train(1), train(2)]
        parallel = run_in_threads([lambda: train(1), lambda: train(2)])
    for got, want in zip(parallel, serial):
        assert_bitwise(got, want)


def test_set_num_threads_while_another_thread_computes():
    call = op_calls(np.random.default_rng(3))
    want = call()
    before = fastbp.get_num_threads()
    stop = threading.Event()

    def flip():
        n = 0
        while not stop.is_set():
            fastbp.set_num_threads(1 + n % 2)
            n += 1
        return n

    def compute():
        try:
            return [call() for _ in range(8)]
        finally:
            stop.set()

    try:
        flips, results = run_in_threads([flip, compute])
    finally:
        fastbp.set_num_threads(before)
    assert flips > 0
    for got in results:
        assert_bitwise(got, want)  # any thread count gives the same bits
