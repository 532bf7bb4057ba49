"""The op table (fastbp._optable): every op declared once, by its NumPy twin, and
fastbp.ops, fastbp.reference, the bindings and the stubs all agree with it."""

from __future__ import annotations

import ast
import inspect
import pathlib
import subprocess
import sys

import pytest

from fastbp import _core, ops
from fastbp import reference as ref
from fastbp._optable import OPS, OpSpec, bind, op

ROOT = pathlib.Path(__file__).resolve().parent.parent

# _core functions that are runtime settings, not ops (fastbp re-exports them).
RUNTIME = {"build_info", "get_num_threads", "set_num_threads", "fma_peak_gflops",
           "cached_bytes", "empty_cache"}


def _binding_signature(name: str) -> inspect.Signature:
    """The signature pybind11 writes on the first line of a binding's docstring,
    parsed as a Python def (argument names, kinds and defaults; no annotations)."""
    first = getattr(_core, name).__doc__.splitlines()[0]
    assert first.startswith(name + "("), first
    func = ast.parse(f"def {first}: ...").body[0]
    args = func.args
    for a in args.posonlyargs + args.args + args.kwonlyargs:
        a.annotation = None
    func.returns = None
    namespace: dict = {}
    exec(compile(ast.Module([func], []), name, "exec"), namespace)  # noqa: S102
    return inspect.signature(namespace[name])


def _plain(sig: inspect.Signature):
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def test_every_core_function_is_an_op_or_a_runtime_setting():
    core = {name for name in dir(_core) if not name.startswith("_")
            and callable(getattr(_core, name))}
    assert sorted(core - RUNTIME) == sorted(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
def test_binding_takes_its_twins_arguments(name):
    assert _plain(_binding_signature(name)) == _plain(inspect.signature(OPS[name].twin))


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_and_twin_share_name_signature_and_docstring(name):
    fast, twin = getattr(ops, name), getattr(ref, name)
    assert twin is OPS[name].twin
    assert fast.__name__ == twin.__name__ == name
    assert inspect.signature(fast) == inspect.signature(twin)
    assert fast.__doc__ == twin.__doc__ and len(twin.__doc__.strip()) > 10
    assert OPS[name].dtypes == ("float32", "float64")


def test_ops_and_reference_export_exactly_the_table():
    assert ops.__all__ == ref.__all__ == sorted(OPS)


def test_op_calls_its_binding_with_the_arguments_given():
    class Core:
        @staticmethod
        def relu_forward(*args, **kwargs):
            return args, kwargs

    spec = OpSpec("relu_forward", ref.relu_forward)
    assert bind(spec, Core)(1, k=2) == ((1,), {"k": 2})


def test_an_op_declared_twice_is_refused():
    with pytest.raises(ValueError, match="'relu_forward' is declared twice"):
        op(ref.relu_forward)


def test_committed_stubs_match_the_built_module_and_the_table():
    # tools/gen_stubs.py --check regenerates _core.pyi (pybind11-stubgen) and
    # ops/__init__.pyi (from the twins) and compares them with the committed files.
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_stubs.py"), "--check"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
