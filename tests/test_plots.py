"""The examples' figures are labelled and complete: every curve of a comparison
with a legend, axis labels, class legends, a colour scale, the CLI's names."""

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402

from fastbp.examples import plots  # noqa: E402
from fastbp.examples.optimizers import OPTIMIZERS, optimizers, plot_inits  # noqa: E402
from fastbp.examples.parabola import parabola_lesson  # noqa: E402
from fastbp.examples.spiral import spiral_softmax  # noqa: E402


@pytest.fixture
def figures(monkeypatch):
    """Every figure saved while the test runs, in order."""
    saved = []
    original = Figure.savefig

    def savefig(self, *args, **kwargs):
        saved.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return saved


def _legend(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_loss_curves_show_every_optimizer_and_both_learning_rates(tmp_path, figures):
    results = {"parabola": parabola_lesson(),
               "optimizers": optimizers(steps=12, init_steps=3, batch_size=8)}
    plots.plot_loss_curves(results, tmp_path / "loss_curves.png")
    axes = {ax.get_title(): ax for ax in figures[-1].axes if ax.get_title()}
    assert _legend(axes["optimizers"]) == list(OPTIMIZERS)
    assert len(axes["optimizers"].lines) == len(OPTIMIZERS)
    assert _legend(axes["parabola"]) == ["lr 0.2", "lr 1"]
    for ax in axes.values():
        assert ax.get_xlabel() == "step" and ax.get_ylabel() == "loss"


def test_decision_boundary_has_axis_labels_class_legend_and_cli_title(tmp_path, figures):
    result = spiral_softmax(steps=5)
    plots.plot_result(result, tmp_path / "s.png")
    ax = figures[-1].axes[0]
    assert ax.get_xlabel() and ax.get_ylabel()
    assert _legend(ax) == ["class 0", "class 1", "class 2"]
    assert ax.get_title().startswith("spiral-softmax: accuracy")


def test_cnn_filters_have_a_colour_scale(tmp_path, figures):
    from fastbp.examples.cnn import cnn_digits

    cnn_digits(epochs=1, plot_dir=str(tmp_path))
    filters = next(f for f in figures if f._suptitle and "filters" in f._suptitle.get_text())
    colourbars = [ax for ax in filters.axes if ax.get_ylabel().startswith("weight")]
    assert len(colourbars) == 1


def test_init_histograms_have_axis_labels(tmp_path, figures):
    acts = {"a": [np.abs(np.random.default_rng(0).standard_normal((50, 4)))] * 3,
            "b": [np.ones((50, 4))] * 3}
    plot_inits(acts, {"a": np.ones(5), "b": np.ones(5)}, str(tmp_path / "i.png"))
    hist = [ax for ax in figures[-1].axes if ax.patches]
    grid = [hist[i:i + 3] for i in range(0, 6, 3)]  # 2 rows of 3 layers
    assert all(ax.get_xlabel() == "activation value" for ax in grid[-1])
    assert all("count" in row[0].get_ylabel() for row in grid)


def test_parabola_step_labels_do_not_overlap(tmp_path, figures):
    plots.plot_result(parabola_lesson(steps=12), tmp_path / "p.png")
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figures[-1]
    renderer = FigureCanvasAgg(fig).get_renderer()
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.texts]
        assert len(boxes) >= 3
        for i in range(len(boxes)):
            for j in range(i):
                assert not boxes[i].overlaps(boxes[j]), (ax.get_title(), i, j)
