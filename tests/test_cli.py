"""The ``fastbp`` command: in-process for the quick checks, and the demo and
``run`` smoke tests in a subprocess, as a user would start them."""

import importlib.util
import os
import subprocess
import sys
from importlib import metadata

import pytest

import fastbp
from fastbp.examples import EXAMPLES
from fastbp.cli import format_table, main

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
PNG = b"\x89PNG\r\n\x1a\n"


def fastbp_cmd(*args, cwd=None, timeout=240):
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    return subprocess.run(
        [sys.executable, "-m", "fastbp", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
    )


def test_console_script_is_declared():
    eps = [ep for ep in metadata.entry_points(group="console_scripts") if ep.name == "fastbp"]
    assert [ep.value for ep in eps] == ["fastbp.cli:main"]


def test_list_shows_every_example(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in EXAMPLES:
        assert name in out


def test_info_prints_build_info(capsys):
    import fastbp

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for key in fastbp.build_info():
        assert f"{key}:" in out
    assert f"version: {fastbp.__version__}" in out


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for sub in ("list", "run", "demo", "info"):
        assert sub in out
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    for opt in ("--seed", "--threads", "--plot", "--quiet"):
        assert opt in out


@pytest.mark.parametrize(
    "argv,message",
    [
        ([], "required"),
        (["run", "no-such-example"], "invalid choice"),
        (["run", "gates", "--threads", "0"], ">= 1"),
        (["run", "gates", "--seed", "x"], "integer"),
    ],
)
def test_bad_arguments_exit_with_usage(capsys, argv, message):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_run_in_process(capsys):
    assert main(["run", "gates", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "gates" in out and "23/23" in out
    assert main(["run", "parabola"]) == 0
    out = capsys.readouterr().out
    assert "-16.13" in out and "params: x=" in out


def test_format_table_pads_columns():
    text = format_table([("a", "1.0"), ("long-name", "2")], ("example", "loss"))
    lines = text.splitlines()
    assert lines[0].startswith("example    loss")
    assert lines[2].startswith("a          1.0")
    assert len(lines) == 4


# --- subprocess smoke tests ------------------------------------------------------
def test_run_spiral_softmax_subprocess(tmp_path):
    plot = tmp_path / "boundary.png"
    args = ["run", "spiral-softmax", "--seed", "0", "--threads", "1"]
    if HAS_MATPLOTLIB:
        args += ["--plot", str(plot)]
    proc = fastbp_cmd(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "spiral-softmax" in proc.stdout
    assert "0.786" in proc.stdout and "accuracy 49.3%" in proc.stdout
    if HAS_MATPLOTLIB:
        assert plot.read_bytes()[:8] == PNG
        assert f"plot written to {plot}" in proc.stdout


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="the graph is drawn with matplotlib")
def test_run_gates_plot_draws_the_apple_graph(tmp_path):
    for name in ("apple.png", "apple.svg"):
        proc = fastbp_cmd("run", "gates", "--quiet", "--plot", str(tmp_path / name), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "apple.png").read_bytes()[:8] == PNG
    svg = (tmp_path / "apple.svg").read_text()
    assert "<svg" in svg and "price" in svg and "apple_num" in svg


def test_run_plot_without_figure_fails_cleanly(monkeypatch, capsys, tmp_path):
    from fastbp.examples import registry

    monkeypatch.setitem(registry.EXAMPLES, "tiny", lambda: {"loss_history": [], "time_s": 0.0})
    assert main(["run", "tiny", "--plot", str(tmp_path / "t.png")]) == 1
    assert "nothing to plot" in capsys.readouterr().err


def test_demo_subprocess(tmp_path):
    proc = fastbp_cmd("demo", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    header = out.splitlines()[0].split()
    assert header == ["example", "final", "loss", "result", "time"]
    rows = {line.split()[0]: line for line in out.splitlines()[2:] if line.strip()}
    for name in EXAMPLES:
        assert name in rows, name
    assert "accuracy 49.3%" in rows["spiral-softmax"]
    assert "accuracy 9" in rows["spiral-mlp"]  # 97% or more
    assert "23/23" in rows["gates"]
    assert "w=2.0" in rows["linear-regression"]
    assert "0.298371109" in rows["sigmoid-mlp"]
    demo_dir = tmp_path / "fastbp-demo"
    if HAS_MATPLOTLIB:
        expected = {"parabola.png", "linear-regression.png", "spiral-softmax.png",
                    "spiral-mlp.png", "loss_curves.png"}
        written = set(os.listdir(demo_dir))
        assert expected <= written
        for name in written:
            assert (demo_dir / name).read_bytes()[:8] == PNG, name
        assert str(demo_dir) in out
    else:
        assert not demo_dir.exists()
        assert "matplotlib is not installed" in out


def _tiny_example(seed=0, progress=False):
    """A registered test example."""
    return {"loss_history": [3.0, 2.0, float(seed)], "accuracy": 0.5, "time_s": 0.001}


def test_registering_an_example_is_one_entry(monkeypatch, capsys):
    from fastbp.examples import registry

    monkeypatch.setitem(registry.EXAMPLES, "tiny", _tiny_example)
    assert main(["list"]) == 0
    assert "A registered test example." in capsys.readouterr().out
    assert main(["run", "tiny", "--seed", "7", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "7.0000" in out and "accuracy 50.0%" in out


def test_demo_without_matplotlib_says_so(monkeypatch, capsys, tmp_path):
    from fastbp.examples import registry

    monkeypatch.setattr(registry, "EXAMPLES", {"gates": EXAMPLES["gates"],
                                               "tiny": _tiny_example})
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "gates" in out and "tiny" in out
    assert "plots skipped: matplotlib is not installed" in out
    assert not (tmp_path / "fastbp-demo").exists()


def test_bench_isa_reruns_under_that_isa(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda argv, env: calls.append((argv, env))
                        or subprocess.CompletedProcess(argv, 0))
    isa = fastbp.build_info()["isas"][0]
    assert main(["bench", "--isa", isa, "--quick", "--repeats", "2", "--json", "b.json"]) == 0
    (argv, env), = calls
    assert argv[1:] == ["-m", "fastbp", "bench", "--quick", "--repeats", "2", "--json", "b.json"]
    assert env["FASTBP_ISA"] == isa


def test_bench_isa_refuses_an_isa_the_cpu_lacks(capsys):
    assert main(["bench", "--isa", "sse9"]) == 2
    assert "--isa sse9: this CPU runs" in capsys.readouterr().err


def test_version(capsys):
    import fastbp

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastbp {fastbp.__version__}"


@pytest.mark.parametrize("command,option,target,message", [
    ("demo", "--out", "file/sub", "is not a folder"),
    ("demo", "--out", "file", "exists and is not a folder"),
    ("run", "--plot", "file/x.png", "is not a folder"),
    ("run", "--plot", "folder", "is a folder, not a file"),
    ("bench", "--json", "file/r.json", "is not a folder"),
    ("bench", "--plot", "file/deeper/b.png", "is not a folder"),
])
def test_output_paths_are_checked_before_anything_runs(monkeypatch, capsys, tmp_path, command,
                                                       option, target, message):
    from fastbp.examples import registry

    ran = []
    monkeypatch.setattr(registry, "EXAMPLES", {"tiny": lambda: ran.append(1) or {}})
    (tmp_path / "file").write_text("")
    (tmp_path / "folder").mkdir()
    argv = [command] + (["tiny"] if command == "run" else []) + [option, str(tmp_path / target)]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and ran == []
    err = capsys.readouterr().err
    assert err.startswith("usage: fastbp " + command)
    assert f"argument {option}:" in err and message in err


def test_unusable_output_path_exits_2_before_training_subprocess(tmp_path):
    proc = fastbp_cmd("demo", "--out", os.devnull + "/x", cwd=tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and "--out" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_output_folders_that_do_not_exist_yet_are_fine(monkeypatch, capsys, tmp_path):
    from fastbp.examples import registry

    monkeypatch.setattr(registry, "EXAMPLES", {"tiny": _tiny_example})
    assert main(["demo", "--quiet", "--no-plots", "--out", str(tmp_path / "a" / "b")]) == 0
    assert "tiny" in capsys.readouterr().out


def test_demo_table_shows_no_single_final_loss_for_a_comparison():
    from fastbp.cli import results_table

    table = results_table({"optimizers": {"final_loss": 0.16, "loss_history": [0.2, 0.16],
                                          "final_losses": {"SGD": 0.68, "Adam": 0.16},
                                          "summary": "final loss SGD 0.680 | Adam 0.160"}})
    row = table.splitlines()[2].split()
    assert row[:2] == ["optimizers", "-"] and "SGD 0.680" in table


def test_a_closed_pipe_ends_the_command_quietly():
    # `fastbp list | head -0`: the reader is gone before the command writes.
    proc = subprocess.Popen([sys.executable, "-m", "fastbp", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 141
    assert b"Traceback" not in err and b"BrokenPipeError" not in err
