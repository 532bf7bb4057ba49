"""The README's code tour runs and prints what the README says it prints."""

import contextlib
import io
import pathlib
import re

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def test_two_layer_network_tour_reaches_the_stated_accuracy():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    tour = next(b for b in blocks if "nn.Sequential" in b)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tour, "README.md", "exec"), {})
    loss, accuracy = (float(v) for v in out.getvalue().split())
    assert abs(loss - 0.25) < 0.02 and accuracy >= 0.97
