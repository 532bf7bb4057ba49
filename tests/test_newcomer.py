"""What a newcomer trips on: lazy submodules, fit's argument checks, Value.backward
called twice, Parameter as an array, quiet progress off a terminal, optimizer
states that name their optimizer, exports and docstrings."""

import inspect
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastbp
from fastbp import fit, losses, nn, optim
from fastbp.graph import Value


# --- submodules on first attribute access (PEP 562) --------------------------
def test_submodules_load_on_first_attribute_access():
    code = textwrap.dedent("""
        import sys
        import fastbp
        # fastbp.reference is not lazy: it is the op table that fastbp.ops binds
        lazy = ("fastbp.data", "fastbp.examples", "matplotlib", "tqdm")
        print(sorted(m for m in lazy if m in sys.modules))
        X, y = fastbp.data.spiral()
        print(X.shape, fastbp.reference.__name__, fastbp.examples.__name__)
        print("data" in dir(fastbp) and "reference" in dir(fastbp))
        try:
            fastbp.no_such_thing
        except AttributeError as e:
            print("AttributeError:", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "[]"  # import fastbp loaded none of them
    assert out[1] == "(300, 2) fastbp.reference fastbp.examples"
    assert out[2] == "True"
    assert out[3] == "AttributeError: module 'fastbp' has no attribute 'no_such_thing'"


def test_private_names_are_not_imported_lazily():
    with pytest.raises(AttributeError):
        fastbp._no_such_private_module  # noqa: B018


# --- fit checks its model, loss and optimizer --------------------------------
def _blobs():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    X = (np.eye(3)[y, :2] * 3 + rng.standard_normal((30, 2))).astype(np.float32)
    return X, y


def _mlp(seed):
    return nn.Sequential(nn.Linear(2, 8, rng=seed), nn.ReLU(), nn.Linear(8, 3, rng=seed + 1))


def test_fit_refuses_an_optimizer_of_another_model():
    X, y = _blobs()
    a, b = _mlp(0), _mlp(1)
    before = b.state_dict()
    with pytest.raises(ValueError, match=r"fit: optimizer holds 4 of its 4 parameters .* model"):
        fit(b, losses.SoftmaxCrossEntropy(), optim.SGD(a.parameters(), lr=0.1), X, y,
            epochs=1, batch_size=10, progress=False)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    # a subset of the model's own parameters (fine-tuning one layer) is allowed
    h = fit(b, losses.SoftmaxCrossEntropy(), optim.SGD(b[2].parameters(), lr=0.1), X, y,
            epochs=1, batch_size=10, progress=False)
    assert h.epochs == 1
    np.testing.assert_array_equal(b[0].weight.data, before["0.weight"])
    assert not np.array_equal(b[2].weight.data, before["2.weight"])


@pytest.mark.parametrize("which", ["model", "loss", "optimizer"])
def test_fit_refuses_a_class_instead_of_an_instance(which):
    X, y = _blobs()
    model = _mlp(0)
    args = {"model": model, "loss": losses.SoftmaxCrossEntropy(),
            "optimizer": optim.SGD(model.parameters(), lr=0.1)}
    args[which] = {"model": nn.Sequential, "loss": losses.SoftmaxCrossEntropy,
                   "optimizer": optim.SGD}[which]
    with pytest.raises(TypeError, match=f"fit: {which} must be an instance, got the class"):
        fit(args["model"], args["loss"], args["optimizer"], X, y, epochs=1, batch_size=10,
            progress=False)


# --- Value.backward twice: leaves accumulate, intermediates do not ------------
def test_value_backward_twice_accumulates_only_the_leaves():
    a, b = Value(2.0), Value(1.0)
    c, d = a + b, b + 1
    e = c * d
    e.backward()
    assert (a.grad, b.grad, c.grad, d.grad, e.grad) == (2, 5, 2, 3, 1)
    e.backward()
    assert (a.grad, b.grad) == (4, 10)  # PyTorch: leaf grads add up over calls
    assert (c.grad, d.grad, e.grad) == (2, 3, 1)  # this call's values only
    e.zero_grad()
    e.backward()
    assert (a.grad, b.grad) == (2, 5)


def test_value_backward_twice_matches_pytorch():
    torch = pytest.importorskip("torch")
    a = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    e = (a + b) * (b + 1)
    e.backward(retain_graph=True)
    e.backward()
    av, bv = Value(2.0), Value(1.0)
    ev = (av + bv) * (bv + 1)
    ev.backward()
    ev.backward()
    assert (av.grad, bv.grad) == (a.grad.item(), b.grad.item())


# --- Parameter reads as its array ----------------------------------------------
def test_parameter_is_an_array_for_numpy():
    layer = nn.Linear(3, 2, rng=0)
    w = layer.weight
    arr = np.asarray(w)
    assert arr is w.data and arr.dtype == np.float32
    assert np.array(w, copy=True) is not w.data
    assert np.asarray(w, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(w * 2, w.data * 2)
    np.testing.assert_array_equal(2 * w, w.data * 2)
    np.testing.assert_array_equal(w - 1, w.data - 1)
    np.testing.assert_array_equal(1 / (w + 10), 1 / (w.data + 10))
    np.testing.assert_array_equal(-w, -w.data)
    np.testing.assert_array_equal(np.exp(w), np.exp(w.data))
    np.testing.assert_array_equal(w.data + w, 2 * w.data)
    x = np.ones((4, 3), np.float32)
    np.testing.assert_array_equal(x @ w, x @ w.data)
    assert type(w * 2) is np.ndarray and type(np.exp(w)) is np.ndarray
    np.testing.assert_array_equal(np.sum(w), w.data.sum())


def test_parameter_in_place_arithmetic_updates_data():
    layer = nn.Linear(3, 2, rng=0)
    w, data = layer.weight, layer.weight.data
    expected = data * 0.5 + 1
    w *= 0.5
    w += 1
    assert layer.weight is w and w.data is data  # the same Parameter and array
    np.testing.assert_array_equal(w.data, expected)
    assert w in layer.parameters() and w == w and w != layer.bias  # identity, not elementwise


# --- progress bars only on a terminal, fit included --------------------------
def test_fit_shows_no_progress_bar_off_a_terminal(capsys):
    pytest.importorskip("tqdm")
    X, y = _blobs()
    model = _mlp(0)
    fit(model, losses.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), X, y,
        epochs=2, batch_size=10, progress=True)  # pytest's captured stderr is no terminal
    assert capsys.readouterr().err == ""


# --- optimizer states name their optimizer ----------------------------------------
def test_optimizer_state_names_its_optimizer(tmp_path):
    model = _mlp(0)
    adam = optim.Adam(model.parameters())
    state = adam.state_dict()
    assert state["optimizer"] == "Adam"
    sgd = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="the state comes from Adam, not SGD"):
        sgd.load_state_dict(state)
    with pytest.raises(ValueError, match="comes from Adam, not AdamW"):
        optim.AdamW(model.parameters()).load_state_dict(state)
    adam2 = optim.Adam(model.parameters())
    adam2.load_state_dict(state)  # its own kind loads
    # through a checkpoint, and from a state saved before states were named
    fastbp.save(tmp_path / "c.npz", model, adam)
    loaded = fastbp.load(tmp_path / "c.npz")["optimizer"]
    assert loaded["optimizer"] == "Adam"
    with pytest.raises(ValueError, match="comes from Adam"):
        sgd.load_state_dict(loaded)
    old = dict(state)
    del old["optimizer"]
    adam2.load_state_dict(old)


# --- exports and docstrings ---------------------------------------------------------
def test_callback_is_exported():
    from fastbp.trainer import Callback

    assert fastbp.Callback is Callback and "Callback" in fastbp.__all__


PUBLIC_MODULES = ["fastbp", "fastbp.nn", "fastbp.losses", "fastbp.optim", "fastbp.schedules",
                  "fastbp.graph", "fastbp.data", "fastbp.trainer", "fastbp.checkpoint",
                  "fastbp.gradcheck", "fastbp.debug"]


def _public_members(module_name):
    """(qualified name, object) of every public function, class, method and
    property that ``module_name`` exports (its ``__all__``)."""
    module = __import__(module_name, fromlist=["_"])
    for name in getattr(module, "__all__", []):
        obj = getattr(module, name)
        if inspect.isfunction(obj) or inspect.isbuiltin(obj):
            yield f"{module_name}.{name}", obj
        elif inspect.isclass(obj) and obj.__module__.startswith("fastbp"):
            yield f"{module_name}.{name}", obj
            for attr, member in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if inspect.isfunction(member) or isinstance(member, property):
                    yield f"{module_name}.{name}.{attr}", getattr(obj, attr)


def test_every_public_function_and_method_has_a_docstring():
    undocumented = sorted({q for m in PUBLIC_MODULES for q, obj in _public_members(m)
                           if not (inspect.getdoc(obj) or "").strip()})
    assert undocumented == []


def test_the_docstring_walk_finds_methods():
    found = dict(q for m in PUBLIC_MODULES for q in _public_members(m))
    for name in ("fastbp.nn.Module.summary", "fastbp.graph.Value.backward",
                 "fastbp.trainer.Callback.on_epoch_end", "fastbp.optim.Optimizer.state_dict",
                 "fastbp.nn.Parameter.zero_grad", "fastbp.data.train_test_split"):
        assert name in found

