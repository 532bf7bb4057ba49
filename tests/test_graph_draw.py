"""fastbp.graph.draw: the computational graph of a Value expression as a figure."""

import pytest

from fastbp.graph import Value, draw

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


def _apple():
    apple, n = Value(100.0, label="apple"), Value(2.0, label="apple_num")
    tax = Value(1.1, label="tax")
    price = apple * n * tax
    price.label = "price"
    price.backward()
    return price


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


def _arrow_colours(fig):
    from matplotlib.colors import to_hex

    return [to_hex(a.arrow_patch.get_edgecolor()) for a in fig.axes[0].texts
            if getattr(a, "arrow_patch", None) is not None]


def test_nodes_show_value_and_gradient():
    fig = draw(_apple())
    texts = _texts(fig)
    # the textbook figure: 100 -> 200 -> 220; gradients 2.2, 110, 1.1, 200, 1
    assert "apple\nvalue 100\ngrad 2.2" in texts
    assert "apple_num\nvalue 2\ngrad 110" in texts
    assert "tax\nvalue 1.1\ngrad 200" in texts
    assert "×\nvalue 200\ngrad 1.1" in texts  # apple * apple_num, unlabelled
    assert "price = ×\nvalue 220\ngrad 1" in texts


def test_forward_and_backward_edges_have_their_own_colours():
    from matplotlib.colors import to_hex

    from fastbp.graph_draw import BACKWARD_COLOR, FORWARD_COLOR

    fig = draw(_apple())
    colours = _arrow_colours(fig)
    # 4 input edges (apple, apple_num -> x; x, tax -> price), each drawn both ways
    assert sorted(colours) == sorted([to_hex(FORWARD_COLOR)] * 4 + [to_hex(BACKWARD_COLOR)] * 4)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["forward: values", "backward: gradients"]


def test_layout_reads_left_to_right():
    fig = draw(_apple())
    x = {t.get_text().split("\n")[0]: t.get_position()[0] for t in fig.axes[0].texts
         if t.get_text()}
    assert x["apple"] == x["apple_num"] < x["×"] == x["tax"] < x["price = ×"]


def test_shared_node_is_drawn_once():
    a, b = Value(2.0, label="a"), Value(1.0, label="b")
    e = (a + b) * (b + 1)
    e.backward()
    texts = _texts(draw(e))
    assert sum(t.startswith("b\n") for t in texts) == 1
    assert "b\nvalue 1\ngrad 5" in texts and "const\nvalue 1\ngrad 3" in texts
    assert len(_arrow_colours(draw(e))) == 2 * 6  # a, b -> +; b, 1 -> +; both + -> ×


@pytest.mark.parametrize("suffix,magic", [(".png", PNG), (".svg", b"<?xml")])
def test_writes_png_or_svg(tmp_path, suffix, magic):
    path = tmp_path / "sub" / f"graph{suffix}"
    fig = draw(_apple(), str(path))
    assert path.read_bytes()[:len(magic)] == magic
    assert fig.axes  # the figure is returned


def test_draws_the_gates_example_result():
    from fastbp.examples.gates import gates

    texts = _texts(draw(gates()))
    assert "price = ×\nvalue 220\ngrad 1" in texts


def test_bad_input(tmp_path):
    with pytest.raises(TypeError, match="output must be a fastbp.graph.Value"):
        draw(3.0)
    with pytest.raises(TypeError, match="output"):
        draw({"values": {}})
    with pytest.raises(ValueError, match=r"path must end in \.png or \.svg"):
        draw(_apple(), str(tmp_path / "graph.jpg"))


def test_does_not_touch_pyplot():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    draw(_apple())
    assert plt.get_fignums() == before
