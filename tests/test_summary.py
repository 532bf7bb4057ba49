"""Module.summary: each layer's output shape and parameter count, with the total."""

import re

import numpy as np
import pytest

from fastbp import nn
from fastbp.examples.cnn import digits_cnn, simple_convnet


def test_simple_convnet_summary(capsys):
    model = simple_convnet(rng=0)
    text = model.summary((1, 28, 28))
    assert capsys.readouterr().out == text + "\n"
    lines = text.splitlines()
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[3:-1]]
    assert all(len(r) == 4 for r in rows) and lines[1].split() == ["name", "layer", "output",
                                                                   "shape", "params"]
    shapes = [r[2] for r in rows]
    assert shapes == ["(30, 24, 24)", "(30, 24, 24)", "(30, 12, 12)", "(4320,)", "(100,)",
                      "(100,)", "(10,)"]
    counts = [int(r[3].replace(",", "")) for r in rows]
    # conv 30*1*5*5 + 30, linear 4320*100 + 100, linear 100*10 + 10 (the book's numbers)
    assert counts == [780, 0, 0, 0, 432100, 0, 1010]
    assert lines[-1] == "total parameters: 433,890"
    assert sum(p.data.size for p in model.parameters()) == 433890
    assert [r[0] for r in rows] == [str(i) for i in range(7)]
    assert "Conv2d(" in rows[0][1] and "Linear(in_features=4320, out_features=100" in text


def test_output_shapes_are_those_of_a_real_forward():
    model = digits_cnn(rng=0)
    text = model.summary((1, 8, 8), show=False)
    x = np.zeros((5, 1, 8, 8), np.float32)
    for i, layer in enumerate(model):
        x = layer(x)
        row = text.splitlines()[3 + i]
        assert str(tuple(x.shape[1:])) in row
    total = sum(p.data.size for p in model.parameters())
    assert text.splitlines()[-1] == f"total parameters: {total:,}"


def test_summary_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Linear(4, 6, rng=0), nn.BatchNorm1d(6), nn.Dropout(0.5, rng=0),
                          nn.ReLU(), nn.Sequential(nn.Linear(6, 3, rng=1)))
    before = model.state_dict()
    model.summary((4,), show=False)
    assert all(m.training for _, m in model.named_modules())
    after = model.state_dict()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])  # running statistics untouched
    model.eval()
    text = model.summary(4, show=False)
    assert not any(m.training for _, m in model.named_modules())
    names = [re.split(r"\s{2,}", line.strip())[0] for line in text.splitlines()[3:-1]]
    assert names == ["0", "1", "2", "3", "4.0"]  # the nested Sequential's layer is listed
    assert text.splitlines()[-1] == "total parameters: 63"  # 30 + 12 + 21


def test_a_single_layer_and_float64():
    text = nn.Linear(3, 2, dtype=np.float64, rng=0).summary((3,), show=False)
    assert "float64" in text.splitlines()[0] and "(2,)" in text
    assert text.splitlines()[-1] == "total parameters: 8"


def test_bad_input_shape():
    model = digits_cnn(rng=0)
    with pytest.raises(ValueError, match=r"summary: input_shape \(3, 8, 8\) does not fit layer 0"):
        model.summary((3, 8, 8))
    with pytest.raises(ValueError, match="input_shape must be a non-empty tuple of ints >= 1"):
        model.summary((1, 0, 8))
    with pytest.raises(ValueError, match="input_shape"):
        model.summary(())
    with pytest.raises(TypeError, match="input_shape must be a tuple of ints"):
        model.summary(None)
    assert all(m.training for _, m in model.named_modules())  # restored after the error
