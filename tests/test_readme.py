"""The README's code tour runs and prints what the README says it prints."""

import contextlib
import io
import os
import pathlib
import re
import subprocess
import sys

import fastbp

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_two_layer_network_tour_reaches_the_stated_accuracy():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    tour = next(b for b in blocks if "nn.Sequential" in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tour, "README.md", "exec"), {})
    loss, accuracy = (float(v) for v in out.getvalue().split())
    assert abs(loss - 0.25) < 0.02 and accuracy >= 0.97


def test_spiral_mlp_loss_per_isa_is_what_each_isa_gives():
    """The README's per-ISA table: every ISA this CPU offers gives the quoted
    loss (to the digits quoted). Thread counts are covered by test_determinism."""
    rows = re.findall(r"^\s*\| (\w+) \| (\d\.\d+)[^|]*\|\s*([\d.]*%?)\s*\|$",
                      README.read_text(), re.M)
    quoted = {isa: loss for isa, loss, _ in rows}
    assert {"avx2", "generic", "avx512"} <= set(quoted)
    assert "not** the same across instruction sets" in README.read_text()
    code = ("import fastbp; from fastbp.examples.spiral import spiral_mlp; "
            "print(repr(spiral_mlp()['final_loss']))")
    checked = 0
    for isa in fastbp.build_info()["isas"]:
        if isa not in quoted:
            continue
        digits = len(quoted[isa].split(".")[1])
        env = dict(os.environ, FASTBP_ISA=isa)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout
        assert f"{float(out):.{digits}f}" == quoted[isa], (isa, out)
        checked += 1
    assert checked >= 1
