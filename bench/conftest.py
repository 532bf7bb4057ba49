"""Benchmark helpers: a GFLOP/s table (fastbp, NumPy, ratio) after the run."""

from __future__ import annotations

from typing import Dict

import pytest

_GFLOPS: Dict[str, Dict[str, float]] = {}


@pytest.fixture
def gflops_table() -> Dict[str, Dict[str, float]]:
    """case -> {impl: GFLOP/s from the median time}; printed at the end of the run."""
    return _GFLOPS


def pytest_terminal_summary(terminalreporter):
    if not _GFLOPS:
        return
    try:
        import threadpoolctl

        blas = [
            f"{i.get('internal_api')} {i.get('architecture', '?')} x{i.get('num_threads')}"
            for i in threadpoolctl.threadpool_info()
            if i.get("user_api") == "blas"
        ]
    except ImportError:
        blas = ["unknown (threadpoolctl not installed)"]
    import fastbp

    info = fastbp.build_info()
    tr = terminalreporter
    tr.section("GFLOP/s (median)")
    tr.write_line(
        f"fastbp isa={info['isa']} threads={info['num_threads']}; numpy BLAS: {', '.join(blas)}"
    )
    tr.write_line(f"{'case':<22}{'fastbp':>10}{'numpy':>10}{'ratio':>8}")
    for case, row in _GFLOPS.items():
        f, n = row.get("fastbp"), row.get("numpy")
        ratio = f"{f / n:8.2f}" if f and n else f"{'-':>8}"
        fs = f"{f:10.1f}" if f else f"{'-':>10}"
        ns = f"{n:10.1f}" if n else f"{'-':>10}"
        tr.write_line(f"{case:<22}{fs}{ns}{ratio}")
