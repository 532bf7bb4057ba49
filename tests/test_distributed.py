"""Data-parallel training over MPI (fastbp.distributed).

The multi-rank tests start ``mpiexec -n 2`` themselves (tests/distributed_worker.py,
one thread per rank, with a timeout so that a hang fails instead of blocking)
and compare what the ranks end with against one process training on the same
global batches (tests/distributed_cases.py). They are skipped, with the
reason, only where mpiexec or mpi4py is missing (``pip install "fastbp[distributed]"``).

Tolerance of "2 ranks == 1 process": a rank's gradient is the mean over its
shard, weighted by its share of the batch, and the two shard sums are added
by the Allreduce; one process sums the whole batch in one GEMM. The float32
sums are split and added in another order, so each step's gradient differs by
a few float32 ulps, and 20 steps of SGD with momentum carry those
differences on: parameters agree to ``rtol=1e-5, atol=2e-6`` (the largest
difference measured was 3e-7, on weights of size 0.1 to 3), losses in the
History to 1e-5. Against a one-process simulation of the two replicas, which
adds the same two weighted float32 gradients, the ranks agree bitwise.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import distributed_cases as cases
import fastbp
from fastbp import distributed

HERE = Path(__file__).resolve().parent
WORKER = HERE / "distributed_worker.py"
TIMEOUT_S = 180  # a hang fails the test; a run takes seconds


def _mpiexec():
    beside = Path(sys.executable).parent / "mpiexec"  # mpich's wheel puts it in the venv
    return str(beside) if beside.exists() else shutil.which("mpiexec")


MPIEXEC = _mpiexec()
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpiexec and mpi4py: pip install 'fastbp[distributed]'",
)
RTOL, ATOL = 1e-5, 2e-6


def _env(threads="1"):
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def _mpirun(args, tmp_path, *, ranks=2, env=None, check=True):
    cmd = [MPIEXEC, "-n", str(ranks)] + [str(a) for a in args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env or _env(), capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n"
                    f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def _worker(scenario, tmp_path, **kw):
    return _mpirun([sys.executable, WORKER, scenario, tmp_path], tmp_path, **kw)


def _load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _one_process(name):
    model, opt, X, y, kwargs = cases.CASES[name](0)
    history = fastbp.fit(model, cases.loss(), opt, X, y, progress=False, **kwargs)
    return model, history


# --- 2 ranks against one process ------------------------------------------------


@needs_mpi
@pytest.mark.parametrize("name", ["spiral", "cnn"])
def test_two_ranks_match_one_process(name, tmp_path):
    _worker(name, tmp_path)
    r0, r1 = (_load(tmp_path / f"{name}.rank{r}.npz") for r in (0, 1))
    model, history = _one_process(name)
    # Both ranks hold the same parameters, bitwise, and the same History.
    for k in r0:
        if k.startswith(("state.", "history.")):
            np.testing.assert_array_equal(r0[k], r1[k], err_msg=k)
    for k, v in model.state_dict().items():
        np.testing.assert_allclose(r0[f"state.{k}"], v, rtol=RTOL, atol=ATOL, err_msg=k)
        assert not np.array_equal(v, cases.CASES[name](1)[0].state_dict()[k])  # it trained
    for k in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        np.testing.assert_allclose(r0[f"history.{k}"], history[k], rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    expected_bytes = 4 * sum(p.data.size for p in model.parameters())
    assert int(r0["bytes_per_step"]) == expected_bytes


@needs_mpi
def test_two_rank_runs_are_bitwise_identical(tmp_path):
    runs = []
    for i in range(2):
        out = tmp_path / str(i)
        out.mkdir()
        _worker("cnn", out)
        runs.append(_load(out / "cnn.rank0.npz"))
    assert runs[0].keys() == runs[1].keys()
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k], err_msg=k)


@needs_mpi
def test_save_from_every_rank_writes_once(tmp_path):
    _worker("spiral", tmp_path)
    assert not (tmp_path / "spiral.ckpt.rank1.npz").exists()
    ckpt = fastbp.load(tmp_path / "spiral.ckpt.rank0.npz")
    trained = _load(tmp_path / "spiral.rank1.npz")
    for k, v in ckpt["model"].items():
        np.testing.assert_array_equal(v, trained[f"state.{k}"], err_msg=k)
    assert ckpt["optimizer"]["step"] == 20  # the wrapped SGD's state, 20 steps
    assert "state.0.momentum_buffer" in ckpt["optimizer"]


@needs_mpi
def test_batchnorm_per_rank_statistics_and_dropout_per_rank_masks(tmp_path):
    """BatchNorm normalises each shard with its own statistics, the running
    statistics are averaged over the ranks after each epoch, and Dropout draws
    each rank's masks from that rank's generator: the ranks end where the
    one-process simulation of two replicas does, and not where one process on
    whole batches (shared statistics, one mask per batch) does."""
    _worker("bn_dropout", tmp_path)
    r0, r1 = (_load(tmp_path / f"bn_dropout.rank{r}.npz") for r in (0, 1))
    simulated = cases.replicas("bn_dropout", 2).state_dict()
    whole_batches, _ = _one_process("bn_dropout")
    far = 0
    for k, v in simulated.items():
        np.testing.assert_array_equal(r0[f"state.{k}"], r1[f"state.{k}"], err_msg=k)
        np.testing.assert_array_equal(r0[f"state.{k}"], v, err_msg=k)
        ref = whole_batches.state_dict()[k]
        far += not np.allclose(r0[f"state.{k}"], ref, rtol=1e-3, atol=1e-4)
    assert far >= 4  # the per-rank statistics and masks change the training


@needs_mpi
def test_readme_script_on_two_ranks_matches_one_process(tmp_path):
    """The README's train.py, as printed there: 2 ranks and 1 process end with
    the same checkpoint within the stated tolerance, and every rank prints the
    same global loss."""
    readme = (HERE.parent / "README.md").read_text()
    section = readme[readme.index("## Training on several machines"):]
    script = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    (tmp_path / "train.py").write_text(script)
    two = _mpirun([sys.executable, "train.py"], tmp_path).stdout
    (tmp_path / "digits-cnn.npz").rename(tmp_path / "two.npz")
    one = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=_env(threads=None),
                         capture_output=True, text=True, timeout=TIMEOUT_S, check=True).stdout
    # mpiexec may join the ranks' lines (one rank's text before the other's newline)
    pattern = r"rank (\d) of (\d): loss ([-+.0-9eE]+\d)"
    two_losses = sorted(re.findall(pattern, two))
    assert [r[:2] for r in two_losses] == [("0", "2"), ("1", "2")], two
    assert two_losses[0][2] == two_losses[1][2]  # the History is global
    ((rank, size, one_loss),) = re.findall(pattern, one)
    assert (rank, size) == ("0", "1")
    assert float(one_loss) == pytest.approx(float(two_losses[0][2]), abs=2e-4)
    two_state = fastbp.load(tmp_path / "two.npz")["model"]
    for k, v in fastbp.load(tmp_path / "digits-cnn.npz")["model"].items():
        np.testing.assert_allclose(two_state[k], v, rtol=RTOL, atol=ATOL, err_msg=k)


# --- failures ----------------------------------------------------------------------


@needs_mpi
def test_an_exception_on_one_rank_ends_the_job(tmp_path):
    proc = _worker("crash", tmp_path, check=False)  # the timeout catches a hang
    assert proc.returncode != 0
    assert "RuntimeError: rank 1 fails on purpose" in proc.stderr + proc.stdout
    assert not (tmp_path / "crash.finished").exists()


@needs_mpi
def test_cli_error_on_every_rank_ends_the_job(tmp_path):
    proc = _mpirun([sys.executable, "-m", "fastbp", "run", "sigmoid-mlp",
                    "--distributed"], tmp_path, check=False)
    assert proc.returncode != 0
    assert "example 'sigmoid-mlp' does not train data parallel" in proc.stderr


@needs_mpi
def test_different_architectures_raise_on_every_rank(tmp_path):
    _worker("mismatch", tmp_path)
    messages = [(tmp_path / f"mismatch.rank{r}.txt").read_text() for r in (0, 1)]
    assert messages[0] == messages[1]
    assert messages[0].startswith("ValueError: broadcast_parameters:")
    assert "'0.weight'" in messages[0]
    assert "(2, 3) on rank 0 but (2, 4) on rank 1" in messages[0]


@needs_mpi
def test_progress_bar_on_rank_0_only(tmp_path):
    proc = _worker("progress", tmp_path)
    assert proc.stderr.count("fit:   0%") == 1, proc.stderr  # one bar started, not two


@needs_mpi
def test_fit_refuses_ranks_with_different_training_sets(tmp_path):
    _worker("sharded_data", tmp_path)
    messages = [(tmp_path / f"sharded_data.rank{r}.txt").read_text() for r in (0, 1)]
    assert messages[0] == messages[1]
    assert "fit: every rank must pass the whole training set" in messages[0]
    assert "[150, 149]" in messages[0]


# --- threads, the command line -----------------------------------------------------


@needs_mpi
@pytest.mark.parametrize("omp", [None, "2"])
def test_threads_per_rank(omp, tmp_path):
    _worker("threads", tmp_path, env=_env(threads=omp))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    expected = int(omp) if omp else max(1, cores // 2)
    for r in (0, 1):
        got = _load(tmp_path / f"threads.rank{r}.npz")
        assert int(got["size"]) == 2 and int(got["local_size"]) == 2
        assert int(got["threads"]) == expected == int(got["build_info"])
        assert str(got["threads_from"]) == ("OMP_NUM_THREADS" if omp else "cores / local ranks")


@needs_mpi
def test_cli_info_shows_the_ranks(tmp_path):
    proc = _mpirun([sys.executable, "-m", "fastbp", "info", "--distributed"],
                   tmp_path, env=_env(threads=None))
    assert proc.stdout.count("distributed: 2 ranks, 2 on this machine") == 1
    assert "threads per rank (cores / local ranks)" in proc.stdout


@needs_mpi
@pytest.mark.slow
@pytest.mark.parametrize("name", ["spiral-mlp", "cnn"])
def test_cli_run_distributed_prints_once(name, tmp_path):
    """The examples train on 2 ranks and rank 0 alone prints the table; the
    accuracy is the one the example reaches in one process (98%)."""
    proc = _mpirun([sys.executable, "-m", "fastbp", "run", name, "--distributed",
                    "--quiet"], tmp_path)
    assert proc.stdout.count("final loss") == 1, proc.stdout
    rows = [line for line in proc.stdout.splitlines() if line.startswith(name)]
    assert len(rows) == 1, proc.stdout
    accuracy = float(rows[0].split("accuracy ")[1].split("%")[0])
    assert accuracy >= 97.0, rows[0]


# --- one process: no MPI needed ------------------------------------------------------


def _python(code, env=None):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=env)


def test_importing_fastbp_does_not_import_mpi4py():
    proc = _python("import sys, fastbp, fastbp.distributed, fastbp.cli; "
                   "print('mpi4py' in sys.modules)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


WITHOUT_MPI4PY = """
import sys
sys.modules["mpi4py"] = None  # as if not installed: importing it raises ImportError
import numpy as np
import fastbp
from fastbp import distributed, nn, optim, losses
sys.path.insert(0, {tests!r})
import distributed_cases as cases

world = distributed.init()
assert (world.rank, world.size, world.comm) == (0, 1, None), world
assert distributed.is_root()
runs = []
for wrap in (False, True):
    model, opt, X, y, kw = cases.CASES["spiral"](0)
    if wrap:
        distributed.broadcast_parameters(model)
        opt = distributed.DistributedOptimizer(opt)
    h = fastbp.fit(model, cases.loss(), opt, X, y, progress=False, **kw)
    runs.append((model.state_dict(), h.loss))
for k in runs[0][0]:
    assert np.array_equal(runs[0][0][k], runs[1][0][k]), k
assert runs[0][1] == runs[1][1]
assert distributed.shard(X) is not None and len(distributed.shard(X)) == len(X)
print("ok")
"""


def test_without_mpi4py_everything_is_one_process():
    proc = _python(WITHOUT_MPI4PY.format(tests=str(HERE)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_a_launcher_without_mpi4py_is_an_import_error():
    code = ("import sys; sys.modules['mpi4py'] = None\n"
            "from fastbp import distributed\n"
            "try:\n    distributed.init()\nexcept ImportError as e:\n    print(e)\n")
    proc = _python(code, env=dict(os.environ, PMI_SIZE="2"))
    assert proc.returncode == 0, proc.stderr
    assert "PMI_SIZE=2" in proc.stdout and "fastbp[distributed]" in proc.stdout


@pytest.mark.parametrize("n, size", [(10, 2), (11, 2), (7, 3), (2, 4), (0, 3), (100, 7)])
def test_shard_bounds_cover_every_sample_once(n, size):
    bounds = [distributed.shard_bounds(n, r, size) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    for (_, stop), (start, _) in zip(bounds, bounds[1:]):
        assert stop == start  # contiguous, in rank order
    lengths = [b - a for a, b in bounds]
    assert max(lengths) - min(lengths) <= 1
    assert lengths == sorted(lengths, reverse=True)  # the first n % size ranks get one more
    X = np.arange(n)
    parts = [distributed.shard(X, X * 2, rank=r, size=size) for r in range(size)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), X)
    np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), X * 2)


def test_shard_bad_input():
    with pytest.raises(ValueError, match="rank"):
        distributed.shard_bounds(10, 2, 2)
    with pytest.raises(ValueError, match="size"):
        distributed.shard_bounds(10, 0, 0)
    with pytest.raises(TypeError, match="n must be an int"):
        distributed.shard_bounds(10.0, 0, 1)
    with pytest.raises(ValueError, match="same length"):
        distributed.shard(np.zeros(4), np.zeros(3), rank=0, size=1)
    with pytest.raises(ValueError, match="batch axis"):
        distributed.shard(np.float32(1), rank=0, size=1)


OPTIMIZER_PASSTHROUGH = """
import sys
sys.modules["mpi4py"] = None
import numpy as np
from fastbp import distributed, nn, optim, schedules
model = nn.Linear(3, 2, rng=0)
inner = optim.Adam(model.parameters(), lr=0.01)
opt = distributed.DistributedOptimizer(inner)
opt.lr = 0.5
assert inner.lr == 0.5 and opt.lr == 0.5
model.weight.grad = 1.0
opt.step()
assert inner.step_count == 1 == opt.step_count
state = opt.state_dict()
assert list(state) == list(inner.state_dict()) and state["step"] == 1
opt.zero_grad()
assert not model.weight.grad.any()
fresh = optim.Adam(nn.Linear(3, 2).parameters(), lr=0.01)
distributed.DistributedOptimizer(fresh).load_state_dict(state)
assert fresh.lr == 0.5 and fresh.step_count == 1
schedules.StepLR(opt, step_size=1, gamma=0.5).step()
assert inner.lr == 0.25
for bad in (model, inner.params, opt):
    try:
        distributed.DistributedOptimizer(bad)
    except TypeError as e:
        assert "DistributedOptimizer: optimizer must be" in str(e)
    else:
        raise AssertionError(bad)
print("ok")
"""


def test_distributed_optimizer_passes_through():
    proc = _python(OPTIMIZER_PASSTHROUGH)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
