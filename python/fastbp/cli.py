"""The ``fastbp`` command: run the classic backpropagation exercises.

    fastbp list                      the runnable examples
    fastbp run NAME [--seed S] [--threads N] [--plot PATH] [--quiet] [--distributed]
    fastbp demo [--out DIR] [--threads N] [--quiet]
    fastbp info [--distributed]      how the native core was built (and the MPI job)
    fastbp --version                 the installed version

Output paths (``--out``, ``--plot``, ``--json``) are checked before anything
runs; one that cannot be written ends the command with a usage message and
exit status 2.

``mpiexec -n 2 fastbp run cnn --distributed`` trains data parallel over MPI
(``cnn`` and ``spiral-mlp``; see :mod:`fastbp.distributed`) and prints once.

Also ``python -m fastbp``.
"""

from __future__ import annotations

import argparse
import inspect
import math
import os
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

DEMO_DIR = "fastbp-demo"


# --- formatting ------------------------------------------------------------
def _fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def _final_loss(result: Dict[str, Any]) -> Optional[float]:
    if "final_losses" in result:  # a comparison: one loss per run, in the result column
        return None
    if "final_loss" in result:
        return float(result["final_loss"])
    history = result.get("loss_history", [])
    return float(history[-1]) if len(history) else None


def _fmt_loss(value: Optional[float]) -> str:
    if value is None:
        return "-"
    if value != 0 and math.isfinite(value) and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.4e}"
    return f"{value:.4f}"


def _fmt_values(value: Any) -> str:
    flat = [f"{float(x):.6g}" for x in np.ravel(value)]
    return flat[0] if np.ndim(value) == 0 else "[" + ", ".join(flat) + "]"


def _outcome(result: Dict[str, Any]) -> str:
    if "summary" in result:
        return str(result["summary"])
    if "accuracy" in result:
        return f"accuracy {result['accuracy']:.1%}"
    params = result.get("params", {})
    small = {k: np.asarray(v) for k, v in params.items() if np.size(v) == 1}
    return " ".join(f"{k}={float(v):.4g}" for k, v in small.items()) or "-"


def format_table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """A plain-text table: columns padded to their widest cell."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


def results_table(results: Dict[str, Dict[str, Any]]) -> str:
    """The demo's table: example, final loss, outcome, time."""
    rows = [
        (name, _fmt_loss(_final_loss(r)), _outcome(r), _fmt_time(float(r.get("time_s", 0.0))))
        for name, r in results.items()
    ]
    return format_table(rows, ("example", "final loss", "result", "time"))


# --- running ---------------------------------------------------------------
def _registry() -> Dict[str, Callable[..., Dict[str, Any]]]:
    from fastbp.examples.registry import EXAMPLES

    return EXAMPLES


def _description(fn: Callable[..., Any]) -> str:
    doc = inspect.getdoc(fn) or ""
    return doc.splitlines()[0].replace("``", "") if doc else ""


def run_example(name: str, *, seed: Optional[int] = None, progress: bool = False,
                distributed: bool = False) -> Dict[str, Any]:
    """Runs registry entry ``name``, passing ``seed`` and ``progress`` when it takes
    them, and ``distributed=True`` when asked (ValueError if it cannot)."""
    examples = _registry()
    if name not in examples:
        raise KeyError(f"unknown example {name!r}; choose from {', '.join(examples)}")
    fn = examples[name]
    accepted = inspect.signature(fn).parameters
    kwargs: Dict[str, Any] = {}
    if seed is not None and "seed" in accepted:
        kwargs["seed"] = seed
    if "progress" in accepted:
        kwargs["progress"] = progress
    if distributed:
        if "distributed" not in accepted:
            able = [n for n, f in examples.items()
                    if "distributed" in inspect.signature(f).parameters]
            raise ValueError(f"--distributed: example {name!r} does not train data parallel; "
                             f"these do: {', '.join(able)}")
        kwargs["distributed"] = True
    return fn(**kwargs)


def _set_threads(n: Optional[int]) -> None:
    if n is not None:
        import fastbp

        fastbp.set_num_threads(n)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def _thread_count(text: str) -> int:
    """An integer in [1, fastbp.MAX_NUM_THREADS] (what set_num_threads accepts)."""
    from fastbp._core import MAX_NUM_THREADS

    value = _positive_int(text)
    if value > MAX_NUM_THREADS:
        raise argparse.ArgumentTypeError(
            f"expected at most {MAX_NUM_THREADS} threads (fastbp.MAX_NUM_THREADS), got {value}")
    return value


def _nonneg_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _demo_plots(results: Dict[str, Dict[str, Any]], out_dir: str) -> List[str]:
    from fastbp.examples import plots

    written = []
    for name, result in results.items():
        try:
            written += plots.plot_result_files(result, os.path.join(out_dir, f"{name}.png"))
        except ValueError:  # nothing to plot (e.g. the gates)
            continue
    written.append(plots.plot_loss_curves(results, os.path.join(out_dir, "loss_curves.png")))
    return written


def _output_problem(path: str, *, folder: bool) -> Optional[str]:
    """Why ``path`` cannot be written (a file, or with ``folder`` a directory
    made on demand), or None. Checked before any training starts."""
    target = os.path.abspath(path)
    if os.path.exists(target):
        if folder and not os.path.isdir(target):
            return f"{path!r} exists and is not a folder"
        if not folder and os.path.isdir(target):
            return f"{path!r} is a folder, not a file"
        writable = os.path.dirname(target) if not folder else target
        return None if os.access(writable, os.W_OK) else f"{path!r} is not writable"
    parent = os.path.dirname(target)
    while not os.path.exists(parent):  # the nearest existing ancestor gets the new folders
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return f"cannot create {path!r}: {parent!r} is not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot create {path!r}: {parent!r} is not writable"
    return None


def _check_outputs(args: argparse.Namespace) -> Optional[str]:
    """The first unusable output path among the command's options, as a message."""
    for option, folder in (("out", True), ("plot", False), ("json", False)):
        path = getattr(args, option, None)
        if path is not None and not (option == "out" and args.no_plots):
            problem = _output_problem(path, folder=folder)
            if problem:
                return f"argument --{option}: {problem}"
    return None


# --- subcommands -----------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    examples = _registry()
    width = max(len(n) for n in examples)
    for name, fn in examples.items():
        print(f"{name.ljust(width)}  {_description(fn)}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    import fastbp

    if args.distributed:  # joins the MPI job first: build_info then shows this rank's threads
        from fastbp import distributed

        world = distributed.print_on_root_only()
        print(f"distributed: {world.size} ranks, {world.local_size} on this machine, "
              f"{world.threads} threads per rank ({world.threads_from})")
    for key, value in fastbp.build_info().items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        print(f"{key}: {value}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    if args.distributed:  # data parallel: every rank trains, rank 0 prints
        from fastbp import distributed

        if not distributed.print_on_root_only().is_root:
            args.quiet = True  # no progress bar either
    try:
        if args.data is not None:
            if args.name != "cnn":
                print("fastbp run: --data goes with the cnn example", file=sys.stderr)
                return 2
            from fastbp.examples.cnn import simple_convnet_mnist

            kwargs = {"distributed": args.distributed}
            kwargs.update({} if args.seed is None else {"seed": args.seed})
            result = simple_convnet_mnist(args.data, progress=not args.quiet, **kwargs)
        else:
            result = run_example(args.name, seed=args.seed, progress=not args.quiet,
                                 distributed=args.distributed)
    except (ImportError, FileNotFoundError, ValueError) as e:  # a missing extra or bad data
        print(f"fastbp run {args.name}: {e}", file=sys.stderr)
        if args.distributed:  # end every rank: the others may wait in an Allreduce
            distributed.abort(1)
        return 1
    print(results_table({args.name: result}))
    if not args.quiet:
        params = result.get("params", {})
        small = {k: np.asarray(v) for k, v in params.items() if np.size(v) <= 4}
        if small:
            shown = (f"{k}={_fmt_values(v)}" for k, v in small.items())
            print("params: " + ", ".join(shown))
    if args.plot:
        from fastbp.examples import plots

        try:
            paths = plots.plot_result_files(result, args.plot)
        except ImportError as e:
            print(f"fastbp run: --plot: {e}", file=sys.stderr)
            return 1
        except ValueError as e:
            print(f"fastbp run: --plot: {e}", file=sys.stderr)
            return 1
        print("plot written to " + ", ".join(paths))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    _set_threads(args.threads)
    start = time.perf_counter()
    results: Dict[str, Dict[str, Any]] = {}
    for name in _registry():
        if not args.quiet:
            print(f"running {name} ...", file=sys.stderr, flush=True)
        try:
            results[name] = run_example(name, seed=args.seed, progress=not args.quiet)
        except ImportError as e:  # an optional dependency (scikit-learn for the digits)
            print(f"skipped {name}: {e}", file=sys.stderr)
    print(results_table(results))
    print(f"total {_fmt_time(time.perf_counter() - start)}")
    from fastbp.examples import plots

    if args.no_plots:
        return 0
    if not plots.available():
        print("plots skipped: matplotlib is not installed (pip install 'fastbp[examples]')")
        return 0
    written = _demo_plots(results, args.out)
    print(f"{len(written)} plots written to {os.path.abspath(args.out)}{os.sep}: "
          + ", ".join(os.path.basename(p) for p in written))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from fastbp import bench

    if args.isa is not None:
        return _bench_under_isa(args)
    _set_threads(args.threads)
    bench.run(quick=args.quick, repeats=args.repeats, json_path=args.json, plot_path=args.plot,
              log=lambda line: print(line, flush=True))
    return 0


def _bench_under_isa(args: argparse.Namespace) -> int:
    """``fastbp bench`` rerun in a fresh interpreter with ``FASTBP_ISA=args.isa``
    (the core picks its ISA once, at import); returns that run's exit status."""
    import subprocess

    import fastbp

    available = fastbp.build_info()["isas"]
    if args.isa not in available:
        print(f"fastbp bench: --isa {args.isa}: this CPU runs {', '.join(available)}",
              file=sys.stderr)
        return 2
    argv = [sys.executable, "-m", "fastbp", "bench"]
    if args.quick:
        argv.append("--quick")
    for flag, value in (("--repeats", args.repeats), ("--threads", args.threads),
                        ("--json", args.json), ("--plot", args.plot)):
        if value is not None:
            argv += [flag, str(value)]
    return subprocess.run(argv, env=dict(os.environ, FASTBP_ISA=args.isa)).returncode


def _version() -> str:
    import fastbp

    return fastbp.__version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastbp",
        description="Backpropagation exercises on fastbp's C++ core: gradient descent, "
        "computational-graph gates, linear regression, sigmoid and ReLU networks.",
        epilog="Start with 'fastbp demo'. Plots need matplotlib, progress bars tqdm "
        "(pip install 'fastbp[examples]').",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("list", help="list the runnable examples",
                       description="List the runnable examples.")
    p.set_defaults(func=cmd_list)

    names = list(_registry())
    p = sub.add_parser("run", help="run one example and print its result",
                       description="Run one example and print its result.")
    p.add_argument("name", choices=names, metavar="NAME",
                   help="the example to run: " + ", ".join(names))
    p.add_argument("--seed", type=_nonneg_int, default=None,
                   help="random seed (default: the example's own, which reproduces "
                   "the textbook numbers)")
    p.add_argument("--threads", type=_thread_count, default=None, metavar="N",
                   help="threads for the native core (default: OMP_NUM_THREADS or all cores)")
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="write the example's figure to PATH (PNG; needs matplotlib)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="cnn only: train the SimpleConvNet on the MNIST IDX files in DIR "
                   "instead of the 8x8 digits")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no parameter dump")
    p.add_argument("--distributed", action="store_true",
                   help="train data parallel over MPI (cnn, spiral-mlp; start with "
                   "'mpiexec -n 2 fastbp run cnn --distributed'; needs fastbp[distributed])")
    p.set_defaults(func=cmd_run, parser=p)

    p = sub.add_parser("demo", help="run every example, print one table, write plots",
                       description="Run every example on generated data, print one table "
                       f"and write the figures into ./{DEMO_DIR}/ (when matplotlib is installed).")
    p.add_argument("--out", default=DEMO_DIR, metavar="DIR",
                   help=f"folder for the plots (default: ./{DEMO_DIR})")
    p.add_argument("--seed", type=_nonneg_int, default=None,
                   help="random seed for every example (default: each example's own)")
    p.add_argument("--threads", type=_thread_count, default=None, metavar="N",
                   help="threads for the native core")
    p.add_argument("--no-plots", action="store_true", help="skip the figures")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_demo, parser=p)

    p = sub.add_parser("bench", help="time fastbp against NumPy, PyTorch and JAX",
                       description="Time the performance workloads (GEMM, convolution, "
                       "training steps) for fastbp, the NumPy reference, PyTorch when "
                       "installed and JAX (jit, CPU; sgemm and the training steps) when "
                       "installed, interleaved in one process; print medians and ratios.")
    p.add_argument("--quick", action="store_true", help="a short subset of the workloads")
    p.add_argument("--repeats", type=_positive_int, default=None, metavar="R",
                   help="timed samples per implementation (default: 9, or 5 with --quick)")
    p.add_argument("--threads", type=_thread_count, default=None, metavar="N",
                   help="threads for fastbp and PyTorch (JAX runs one per core)")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the results as JSON")
    p.add_argument("--plot", metavar="PATH", default=None,
                   help="also write a bar chart PNG (needs matplotlib)")
    p.add_argument("--isa", metavar="NAME", default=None,
                   help="run under FASTBP_ISA=NAME in a fresh interpreter (one of "
                   "fastbp.build_info()['isas']; default: the best this CPU runs)")
    p.set_defaults(func=cmd_bench, parser=p)

    p = sub.add_parser("info", help="show how the native core was built",
                       description="Show fastbp.build_info(): version, ISA, OpenMP, threads.")
    p.add_argument("--distributed", action="store_true",
                   help="join the MPI job first and show its ranks and the threads per rank")
    p.set_defaults(func=cmd_info)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``fastbp`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    problem = _check_outputs(args)
    if problem:  # before any training: usage message and exit status 2, as argparse does
        args.parser.error(problem)
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        # The reader went away (``fastbp list | head``): stop quietly, as shell tools do,
        # and keep the interpreter's final flush from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # killed by SIGPIPE, as a shell reports it
    return status
