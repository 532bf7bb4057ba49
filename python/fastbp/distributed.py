"""Data-parallel training over MPI (through mpi4py, the ``distributed`` extra).

Every rank (process) holds a full replica of the model and the full data set;
each global minibatch is cut into one contiguous shard per rank, every rank
runs forward and backward on its shard, and before each update the gradients
are combined over the ranks (one in-place ``Allreduce`` per step over one
contiguous buffer per dtype), so every replica takes the same step::

    from fastbp import distributed
    world = distributed.init()                     # rank, size; 0 of 1 without mpiexec
    model = build_model(seed=0)
    distributed.broadcast_parameters(model)        # every rank starts from rank 0's weights
    opt = distributed.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
    history = fastbp.fit(model, loss, opt, X, y, epochs=5, batch_size=128, seed=0)
    fastbp.save("model.npz", model, opt)           # called on every rank, written by rank 0

Launched as ``mpiexec -n 4 -hosts a,b python train.py``. What is combined, and
how the result compares with one process:

* Gradients: rank r's gradient (the mean over its shard of n_r samples) is
  weighted by ``n_r / N`` and the weighted gradients are summed, which is the
  gradient of the mean loss over the whole global batch of N samples, as one
  process computes it, up to float32 rounding (the batch sum is split in
  pieces and added in another order; after 20 steps the parameters of the
  tested models differ by at most a few 1e-7).
* Losses and metrics in :func:`fastbp.fit`'s History: sums over all ranks,
  added in rank order, so they are identical on every rank.
* BatchNorm: each rank normalises its shard with the shard's own mean and
  variance (per-rank statistics, not synchronised within a step, as PyTorch's
  DDP without SyncBatchNorm), so a model with BatchNorm trains on the ranks
  like one process with ghost batches of the shard size. The running
  statistics are averaged over the ranks by :func:`average_buffers`, which
  ``fit`` calls at the end of every epoch, before validation.
* Dropout: each rank draws its masks from its own Dropout layers' generators;
  the mask of rank r depends on that generator and on the shard's shape,
  never on the other ranks. Built with the same seed on every rank, the ranks
  drop the same positions of their different shards; seed each rank's
  Dropout differently (``Dropout(p, rng=seed + world.rank)``) for independent
  masks.

Without ``mpiexec`` (or without mpi4py installed) :func:`init` returns rank 0
of 1 and everything here works as in one process. Importing this module never
imports mpi4py; :func:`init` does, when it is installed.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from fastbp.nn.module import Module
from fastbp.optim import Optimizer

__all__ = [
    "DistributedOptimizer",
    "World",
    "abort",
    "average_buffers",
    "broadcast_parameters",
    "global_sum",
    "init",
    "is_root",
    "print_on_root_only",
    "shard",
    "shard_bounds",
    "unwrap",
]

#: Environment variables by which MPI launchers (MPICH/Hydra, Open MPI, PMIx,
#: Slurm) tell a process how many ranks the job has.
_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_NTASKS")


class World:
    """The communicator :func:`init` returns.

    Attributes: ``rank`` and ``size`` (this process's index among the ``size``
    processes of the job), ``local_rank`` and ``local_size`` (the same among
    the ranks on this machine), ``threads`` (the fastbp threads of this rank
    after :func:`init`) and ``threads_from`` (what chose that count:
    ``"cores / local ranks"``, ``"OMP_NUM_THREADS"`` or ``"set_num_threads"``),
    ``comm`` (the mpi4py ``COMM_WORLD``, None when running without MPI).
    """

    def __init__(self, comm: Any, rank: int, size: int, local_rank: int, local_size: int,
                 threads: Tuple[int, str]) -> None:
        self.comm = comm
        self.rank = rank
        self.size = size
        self.local_rank = local_rank
        self.local_size = local_size
        self.threads, self.threads_from = threads

    @property
    def is_root(self) -> bool:
        """True on rank 0."""
        return self.rank == 0

    def __repr__(self) -> str:
        return (f"World(rank={self.rank}, size={self.size}, local_rank={self.local_rank}, "
                f"local_size={self.local_size}, threads={self.threads}, "
                f"mpi={self.comm is not None})")


_world: Optional[World] = None


def init(*, set_threads: bool = True) -> World:
    """Joins the MPI job (once; later calls return the same :class:`World`).

    Under ``mpiexec`` this imports mpi4py (which initialises MPI), finds the
    ranks sharing this machine (``Split_type(COMM_TYPE_SHARED)``) and, with
    ``set_threads``, gives each rank ``cores // local ranks`` fastbp threads
    (at least 1), so the ranks of a machine do not oversubscribe its cores.
    That count is left alone when ``OMP_NUM_THREADS`` is set or when
    :func:`fastbp.set_num_threads` already chose a count other than the
    default; calling ``set_num_threads`` after ``init`` overrides it too.
    ``fastbp info --distributed`` shows the result.

    When the job has more than one rank, an uncaught exception on any rank
    prints its traceback and aborts the whole job (``MPI_Abort``), so the other
    ranks never wait forever in a collective call.

    Without mpi4py installed, or outside a launcher, this is rank 0 of 1. A
    launcher that announces several ranks without mpi4py installed is an
    ``ImportError`` (every rank would otherwise train alone).
    """
    global _world
    if _world is not None:
        return _world
    try:
        from mpi4py import MPI
    except ImportError:
        announced = [v for v in _LAUNCHER_SIZE_VARS if os.environ.get(v, "1") not in ("", "1")]
        if announced:
            raise ImportError(
                f"fastbp.distributed: this process was started by an MPI launcher "
                f"({announced[0]}={os.environ[announced[0]]}) but mpi4py is not installed: "
                f"pip install 'fastbp[distributed]'") from None
        _world = World(None, 0, 1, 0, 1, _threads(1, set_threads))
        return _world
    comm = MPI.COMM_WORLD
    local = comm.Split_type(MPI.COMM_TYPE_SHARED, key=comm.Get_rank())
    local_rank, local_size = local.Get_rank(), local.Get_size()
    local.Free()
    _world = World(comm, comm.Get_rank(), comm.Get_size(), local_rank, local_size,
                   _threads(local_size, set_threads))
    if _world.size > 1:
        _install_abort_hook(comm)
    return _world


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads(local_size: int, set_threads: bool) -> Tuple[int, str]:
    """Sets this rank's share of the machine's cores, unless the user chose a
    count; returns the count and what chose it."""
    from fastbp import _core

    if "OMP_NUM_THREADS" in os.environ:
        source = "OMP_NUM_THREADS"
    elif not set_threads:
        source = "unchanged (init(set_threads=False))"
    elif _core.get_num_threads() != _cores():
        source = "set_num_threads"
    else:
        source = "cores / local ranks"
        _core.set_num_threads(max(1, _cores() // local_size))
    return _core.get_num_threads(), source


def _install_abort_hook(comm: Any) -> None:
    previous = sys.excepthook

    def abort_on_exception(exc_type, exc, tb):  # type: ignore[no-untyped-def]
        try:
            previous(exc_type, exc, tb)  # the traceback, on this rank's stderr
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            comm.Abort(1)

    sys.excepthook = abort_on_exception


def abort(code: int = 1) -> None:
    """Ends the whole job with exit status ``code`` (``MPI_Abort``); in one
    process, ``sys.exit(code)``. For a rank that must stop without an
    exception: ``sys.exit`` on one rank alone would leave the others waiting."""
    world = init()
    sys.stdout.flush()
    sys.stderr.flush()
    if world.comm is not None and world.size > 1:
        world.comm.Abort(code)
    sys.exit(code)


def is_root() -> bool:
    """True unless :func:`init` joined a job as a rank other than 0 (so also
    True in a program that never called :func:`init`)."""
    return _world is None or _world.rank == 0


# --- sharding ---------------------------------------------------------------


def shard_bounds(n: int, rank: Optional[int] = None, size: Optional[int] = None) -> Tuple[int, int]:
    """``(start, stop)`` of ``rank``'s contiguous part of ``n`` samples.

    The split rule: every rank gets ``n // size`` samples and the first
    ``n % size`` ranks one more, in rank order, so the parts are contiguous,
    differ in length by at most one, and cover every sample exactly once (with
    ``n < size`` the last ranks get none). ``rank``/``size`` default to this
    process's (:func:`init`).
    """
    if rank is None or size is None:
        world = init()
        rank = world.rank if rank is None else rank
        size = world.size if size is None else size
    for value, name in ((n, "n"), (rank, "rank"), (size, "size")):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"shard_bounds: {name} must be an int, got {type(value).__name__}")
    if size < 1 or not 0 <= rank < size or n < 0:
        raise ValueError(f"shard_bounds: need n >= 0, size >= 1 and 0 <= rank < size, "
                         f"got n={n}, rank={rank}, size={size}")
    base, extra = divmod(int(n), int(size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def shard(X: Any, y: Any = None, *, rank: Optional[int] = None,
          size: Optional[int] = None) -> Any:
    """This rank's contiguous part of a global batch: ``X[start:stop]``, or the
    pair ``(X[start:stop], y[start:stop])`` when ``y`` is given (views, no
    copy). The split rule is :func:`shard_bounds`'s."""
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("shard: X must have a batch axis, got a 0-d array")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != len(X):
            raise ValueError(f"shard: X and y must have the same length along axis 0, "
                             f"got shapes {X.shape} and {y.shape}")
    start, stop = shard_bounds(len(X), rank, size)
    return X[start:stop] if y is None else (X[start:stop], y[start:stop])


# --- collectives ------------------------------------------------------------


def global_sum(values: Any) -> np.ndarray:
    """The sum over all ranks of ``values`` (same shape on every rank), as
    float64, added in rank order: the result is bitwise the same on every rank
    (an Allgather, then a local sum; meant for a few numbers such as loss sums)."""
    local = np.ascontiguousarray(values, dtype=np.float64)
    world = init()
    if world.comm is None or world.size == 1:
        return local.copy()
    gathered = np.empty((world.size,) + local.shape, np.float64)
    world.comm.Allgather(local, gathered)
    total = gathered[0].copy()
    for r in range(1, world.size):
        total += gathered[r]
    return total


def _signature(model: Module) -> List[Tuple[str, str, Tuple[int, ...], str]]:
    sig = [("parameter", n, p.data.shape, p.data.dtype.str) for n, p in model.named_parameters()]
    sig += [("buffer", n, b.shape, b.dtype.str) for n, b in model.named_buffers()]
    return sig


def _first_difference(signatures: Sequence[List[Tuple[Any, ...]]], root: int) -> Optional[str]:
    """The first entry in which a rank's architecture differs from root's, in words."""
    ref = signatures[root]
    for r, sig in enumerate(signatures):
        for i in range(max(len(ref), len(sig))):
            a = ref[i] if i < len(ref) else None
            b = sig[i] if i < len(sig) else None
            if a == b:
                continue
            if a is None or b is None:
                have = b if a is None else a
                who, other = (r, root) if a is None else (root, r)
                return (f"rank {who} has {have[0]} {have[1]!r} (entry {i}) "
                        f"that rank {other} does not have")
            if a[:2] != b[:2]:
                return (f"entry {i} is {a[0]} {a[1]!r} on rank {root} but {b[0]} {b[1]!r} "
                        f"on rank {r}")
            what = "shape" if a[2] != b[2] else "dtype"
            va, vb = (a[2], b[2]) if what == "shape" else (np.dtype(a[3]).name,
                                                            np.dtype(b[3]).name)
            return f"{a[0]} {a[1]!r} has {what} {va} on rank {root} but {vb} on rank {r}"
    return None


def _packed(arrays: Sequence[np.ndarray]) -> "OrderedDict[str, List[np.ndarray]]":
    groups: "OrderedDict[str, List[np.ndarray]]" = OrderedDict()
    for a in arrays:
        groups.setdefault(a.dtype.str, []).append(a)
    return groups


def broadcast_parameters(model: Module, root: int = 0) -> None:
    """Copies root's parameters and buffers (e.g. BatchNorm running statistics)
    into every rank's ``model``, in place, one ``Bcast`` per dtype.

    First every rank's architecture (parameter and buffer names, shapes and
    dtypes, in order) is compared with root's; on a difference every rank
    raises the same ``ValueError`` naming the first one, and nothing is
    copied. Optimizer state is not sent: call this before training starts.
    """
    if not isinstance(model, Module):
        raise TypeError(f"broadcast_parameters: model must be a fastbp.nn.Module, "
                        f"got {type(model).__name__}")
    world = init()
    if not isinstance(root, (int, np.integer)) or isinstance(root, bool) \
            or not 0 <= root < world.size:
        raise ValueError(f"broadcast_parameters: root must be a rank in [0, {world.size}), "
                         f"got {root!r}")
    if world.comm is None or world.size == 1:
        return
    difference = _first_difference(world.comm.allgather(_signature(model)), int(root))
    if difference is not None:
        raise ValueError(f"broadcast_parameters: the ranks hold different models: {difference}")
    arrays = [p.data for p in model.parameters()] + [b for _, b in model.named_buffers()]
    for group in _packed(arrays).values():
        flat = np.concatenate([a.ravel() for a in group]) if world.rank == root \
            else np.empty(sum(a.size for a in group), group[0].dtype)
        world.comm.Bcast(flat, root=int(root))
        _unpack(flat, group)


def _unpack(flat: np.ndarray, arrays: Sequence[np.ndarray]) -> None:
    offset = 0
    for a in arrays:
        a[...] = flat[offset:offset + a.size].reshape(a.shape)
        offset += a.size


def average_buffers(model: Module, root: int = 0) -> None:
    """Makes the buffers the same on every rank: floating-point buffers (the
    BatchNorm running mean and variance) become their mean over the ranks,
    integer ones (``num_batches_tracked``) take root's value.

    The running mean is an exponential average, linear in the batch means, so
    the mean over ranks of the per-rank running means is the running mean of
    the per-step averages of the shard means, that is, of the global batch
    means (equal shards). The mean of the per-rank running variances leaves out
    the spread of the shard means around the global mean.
    """
    if not isinstance(model, Module):
        raise TypeError(f"average_buffers: model must be a fastbp.nn.Module, "
                        f"got {type(model).__name__}")
    world = init()
    if world.comm is None or world.size == 1:
        return
    from mpi4py import MPI

    for group in _packed([b for _, b in model.named_buffers()]).values():
        flat = np.concatenate([a.ravel() for a in group])
        if flat.dtype.kind == "f":
            world.comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
            flat /= world.size
        else:
            world.comm.Bcast(flat, root=root)
        _unpack(flat, group)


# --- the optimizer ------------------------------------------------------------


class DistributedOptimizer(Optimizer):
    """Wraps a fastbp optimizer: :meth:`step` first combines the gradients over
    all ranks (:meth:`synchronize`), then runs the wrapped optimizer's step.

    The gradients of all parameters travel in one contiguous buffer per dtype
    (allocated once), reduced with one in-place ``Allreduce`` each: each rank
    copies its gradients into the buffer weighted by its share of the global
    batch, the sum over ranks is copied back. The share is ``1 / size`` unless
    :meth:`set_shard_sizes` gave it (:func:`fastbp.fit` does, for the uneven
    last batch). ``zero_grad``, ``lr``, ``state_dict``/``load_state_dict``,
    ``params``, ``hyper`` and ``state`` are the wrapped optimizer's;
    ``optimizer`` is the wrapped optimizer. Schedules and
    :func:`fastbp.save` accept the wrapper.
    """

    def __init__(self, optimizer: Optimizer) -> None:  # noqa: D107 (no Optimizer.__init__)
        if not isinstance(optimizer, Optimizer) or isinstance(optimizer, DistributedOptimizer):
            raise TypeError(f"DistributedOptimizer: optimizer must be a fastbp.optim "
                            f"Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.world = init()
        self._share: Optional[float] = None
        self._buffers: List[Tuple[np.ndarray, List[Any]]] = []
        for dtype, params in _packed_params(optimizer.params).items():
            self._buffers.append((np.empty(sum(p.data.size for p in params), dtype), params))

    # The wrapped optimizer's state, read and written through.
    params = property(lambda self: self.optimizer.params)
    hyper = property(lambda self: self.optimizer.hyper)
    state = property(lambda self: self.optimizer.state)
    step_count = property(lambda self: self.optimizer.step_count)

    @property
    def lr(self) -> float:
        """The wrapped optimizer's learning rate (settable)."""
        return self.optimizer.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.optimizer.lr = value

    @property
    def bytes_per_step(self) -> int:
        """Bytes of gradient each rank contributes to the Allreduce of one step."""
        return sum(buf.nbytes for buf, _ in self._buffers)

    def set_shard_sizes(self, n_local: int, n_global: int) -> None:
        """Declares that this rank's gradients of the next steps are the mean
        over ``n_local`` of ``n_global`` samples of the global batch; they are
        weighted by ``n_local / n_global`` (0 when ``n_local`` is 0: the rank
        still takes part in the reduction)."""
        if not 0 <= n_local <= n_global or n_global < 1:
            raise ValueError(f"DistributedOptimizer.set_shard_sizes: need "
                             f"0 <= n_local <= n_global and n_global >= 1, "
                             f"got {n_local} and {n_global}")
        self._share = n_local / n_global

    def synchronize(self) -> None:
        """Replaces every gradient by the weighted sum over all ranks (one
        in-place ``Allreduce`` per dtype buffer). A no-op on one rank."""
        world = self.world
        if world.comm is None or world.size == 1:
            return
        from mpi4py import MPI

        share = 1.0 / world.size if self._share is None else self._share
        for buf, params in self._buffers:
            offset = 0
            for p in params:  # (size,) views of the buffer, filled with share * grad
                view = buf[offset:offset + p.data.size].reshape(p.data.shape)
                np.multiply(p.grad, share, out=view)
                offset += p.data.size
            world.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            offset = 0
            for p in params:
                p.grad = buf[offset:offset + p.data.size].reshape(p.data.shape)
                offset += p.data.size

    def step(self) -> None:
        """:meth:`synchronize`, then the wrapped optimizer's ``step``."""
        self.synchronize()
        self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def state_dict(self) -> "OrderedDict[str, Any]":
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"DistributedOptimizer({self.optimizer!r}, rank={self.world.rank} of " \
               f"{self.world.size})"


def _packed_params(params: Sequence[Any]) -> "OrderedDict[str, List[Any]]":
    groups: "OrderedDict[str, List[Any]]" = OrderedDict()
    for p in params:
        groups.setdefault(p.data.dtype.str, []).append(p)
    return groups


def unwrap(optimizer: Any) -> Any:
    """The optimizer inside a :class:`DistributedOptimizer`; anything else as is."""
    return optimizer.optimizer if isinstance(optimizer, DistributedOptimizer) else optimizer


# --- the hook fastbp.fit calls ----------------------------------------------------


class FitPlan:
    """What :func:`fastbp.fit` does differently with a :class:`DistributedOptimizer`:
    every rank draws the epoch's order and takes its shard of each global
    batch, sums over ranks at the end of each epoch, shards the validation set."""

    def __init__(self, optimizer: DistributedOptimizer) -> None:
        self.optimizer = optimizer
        self.world = optimizer.world

    @property
    def is_root(self) -> bool:
        return self.world.is_root

    def same_order(self, order: np.ndarray) -> np.ndarray:
        """Root's permutation on every rank (the same seed draws it everywhere;
        broadcasting it makes sure, even for ``seed=None``)."""
        if self.world.comm is not None and self.world.size > 1:
            order = np.ascontiguousarray(order, dtype=np.int64)
            self.world.comm.Bcast(order, root=0)
        return order

    def local(self, idx: np.ndarray) -> np.ndarray:
        """This rank's part of the global batch ``idx``; sets the gradient weight."""
        start, stop = shard_bounds(len(idx), self.world.rank, self.world.size)
        self.optimizer.set_shard_sizes(stop - start, len(idx))
        return idx[start:stop]

    def end_epoch(self, model: Module, total: float, correct: float, has_acc: bool
                  ) -> Tuple[float, float, bool]:
        """Averages the buffers over the ranks (:func:`average_buffers`), so that
        every rank holds the same model; returns the loss sum, the correct count
        and whether accuracy applies, over all ranks."""
        average_buffers(model)
        sums = global_sum([total, correct, 0.0 if has_acc else 1.0])
        return float(sums[0]), float(sums[1]), bool(sums[2] == 0)

    def evaluate(self, evaluate: Callable[..., Tuple[float, Optional[float]]], model: Module,
                 loss: Any, X: np.ndarray, y: np.ndarray, batch_size: int
                 ) -> Tuple[float, Optional[float]]:
        """``evaluate`` (mean loss and accuracy) on this rank's shard of (X, y),
        combined over the ranks into the means over all of (X, y)."""
        start, stop = shard_bounds(len(X), self.world.rank, self.world.size)
        n = stop - start
        mean_loss, acc = evaluate(model, loss, X[start:stop], y[start:stop], batch_size) \
            if n else (0.0, 0.0)
        sums = global_sum([mean_loss * n, (acc or 0.0) * n, 0.0 if (acc is not None) else 1.0])
        return float(sums[0]) / len(X), (None if sums[2] else float(sums[1]) / len(X))


def fit_plan(optimizer: Any, n: int) -> Optional[FitPlan]:
    """A :class:`FitPlan` for a :class:`DistributedOptimizer`, None for any
    other. Every rank must pass the whole training set: ``n`` samples
    everywhere, else every rank raises ``ValueError``."""
    if not isinstance(optimizer, DistributedOptimizer):
        return None
    world = optimizer.world
    if world.comm is not None and world.size > 1:
        lengths = world.comm.allgather(int(n))
        if len(set(lengths)) > 1:
            raise ValueError(f"fit: every rank must pass the whole training set (fit shards "
                             f"each batch itself), but the ranks hold {lengths} samples")
    return FitPlan(optimizer)


def print_on_root_only() -> World:
    """:func:`init`, then on ranks other than 0 sends ``sys.stdout`` to
    ``os.devnull``, so that a program run by ``mpiexec`` prints its results
    once (errors on stderr still show from every rank)."""
    world = init()
    if not world.is_root:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the life of the process)
    return world
