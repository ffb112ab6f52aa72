"""The benchmark command (`python -m fastlogistic bench`): its arithmetic on
made-up timings (paired ratios, quartiles, target verdicts), its output on a
tiny real run (table, JSON, plot) and its answers to bad options.  No timing
is asserted: only that the numbers it reports are the ones it measured."""
import json
import statistics
import subprocess
import sys

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import bench as _bench


def _row(impl, rounds, function="sigmoid", shape=(10**6,), dtype="float64", threads=1):
    return {"function": function, "implementation": impl, "dtype": dtype, "shape": list(shape),
            "threads": threads, "n_elements": shape[0], "note": "",
            "seconds_per_call": statistics.median(rounds),
            "ns_per_element": statistics.median(rounds) * 1e9 / shape[0],
            "rounds_seconds_per_call": list(rounds)}


def test_paired_ratio_is_the_median_of_per_round_ratios():
    torch = _row("torch", [4.0, 2.0, 9.0, 3.0, 5.0])
    ours = _row("fastlogistic", [1.0, 1.0, 3.0, 2.0, 1.0])
    # per round: 4, 2, 3, 1.5, 5 -> median 3; the ratio of medians would be 4 / 1 = 4
    assert _bench.paired_ratios(torch, ours) == [4.0, 2.0, 3.0, 1.5, 5.0]
    assert _bench.paired_ratio(torch, ours) == 3.0
    assert _bench.quartiles([4.0, 2.0, 3.0, 1.5, 5.0]) == (2.0, 4.0)
    assert _bench.quartiles([7.0]) == (7.0, 7.0)
    # rounds that do not line up: the ratio of the medians
    assert _bench.paired_ratios(_row("torch", [6.0, 6.0]), ours) == [6.0]


def test_targets_pass_fail_skip_and_noise_flag():
    rounds_fl = [1.0] * 8
    results = [
        _row("fastlogistic", rounds_fl),
        _row("torch", [1.6] * 8),                               # sigmoid f64: 1.6x >= 1.5
        _row("fastlogistic", rounds_fl, dtype="float32"),
        _row("torch", [1.2, 1.3, 1.4, 1.45, 1.5, 1.6, 1.7, 1.8], dtype="float32"),
        _row("fastlogistic", rounds_fl, function="bce_logits"),  # no torch row: skipped
    ]
    checks = {(c["target"].split(":")[0], c["dtype"]): c for c in _bench.check_targets(results)}
    f64 = checks[("sigmoid, 1 thread, N=1e6", "float64")]
    assert f64["pass"] is True and f64["ratio"] == pytest.approx(1.6)
    assert not f64["within_noise"]
    f32 = checks[("sigmoid, 1 thread, N=1e6", "float32")]
    assert f32["pass"] is False and f32["ratio"] == pytest.approx(1.475)
    assert f32["within_noise"] and f32["ratio_q1"] < 1.5 < f32["ratio_q3"]
    bce = checks[("bce_logits mean, 1 thread, N=1e6", "float64")]
    assert bce["pass"] is None and "torch not run" in bce["shown"]


def test_time_ratio_target_is_an_upper_bound():
    results = [_row("fastlogistic", [2.0, 2.0, 2.0], shape=(16,)),
               _row("scipy", [1.0, 1.0, 1.0], shape=(16,))]
    (check,) = [c for c in _bench.check_targets(results) if "N=16" in c["target"]]
    assert check["ratio"] == 2.0 and check["pass"] is False    # 2x scipy's time > 1.5x


def test_small_run_prints_table_and_writes_json_and_plot(tmp_path, capsys):
    path = tmp_path / "b.json"
    argv = ["--functions", "sigmoid", "--sizes", "100,1e3", "--dtypes", "float64",
            "--impls", "numpy", "--repeat", "3", "--quiet", "--json", str(path)]
    plot = tmp_path / "b.png"
    have_mpl = _bench._import("matplotlib") is not None
    if have_mpl:
        argv += ["--plot", str(plot)]
    assert _bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "sigmoid  float64  N=100" in out and "sigmoid  float64  N=1e3" in out
    data = json.loads(path.read_text())
    if sys.platform.startswith("linux") and data["machine"]["malloc"] is not None:
        assert "malloc: glibc mmap threshold 32 MiB, trim threshold 128 MiB" in out
    assert data["rounds"] == 3 and data["argv"] == argv
    rows = data["results"]
    assert {(r["implementation"], r["n_elements"]) for r in rows} == {
        ("fastlogistic", 100), ("numpy", 100), ("fastlogistic", 1000), ("numpy", 1000)}
    for r in rows:
        assert len(r["rounds_seconds_per_call"]) == 3
        assert r["seconds_per_call"] == statistics.median(r["rounds_seconds_per_call"]) > 0
        assert r["ns_per_element"] == pytest.approx(r["seconds_per_call"] * 1e9 / r["n_elements"])
        assert f"{r['ns_per_element']:.3f}" in out
    if have_mpl:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,message", [
    (["--repeat", "0"], "--repeat must be at least 1"),
    (["--threads", "0"], "--threads must be positive"),
    (["--functions", "sigmoid,nope"], "nope"),
    (["--sizes", "1.5"], "positive integer"),
    (["--dtypes", "float16"], "float16"),
])
def test_bad_options_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        _bench.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_default_output_has_machine_and_summary_but_no_targets(capsys):
    """By default: the table, the machine (CPU, SIMD level, threads) and a
    one-line summary; the PASS/FAIL target section only with --targets,
    labelled as the reference machine's."""
    argv = ["--functions", "sigmoid", "--sizes", "1e3", "--dtypes", "float64",
            "--impls", "numpy", "--repeat", "3", "--quiet"]
    assert _bench.main(argv) == 0
    out = capsys.readouterr().out
    assert "PASS" not in out and "FAIL" not in out and "Targets" not in out
    from fastlogistic import _config
    cfg = _config.config()
    assert f"SIMD level {cfg['simd_level']}" in out
    assert f"{cfg['default_threads']} threads by default" in out
    (summary,) = [ln for ln in out.splitlines() if ln.startswith("summary: ")]
    assert "sigmoid f64 N=1e3: " in summary and "x numpy" in summary
    assert _bench.main(argv + ["--targets"]) == 0
    out = capsys.readouterr().out
    assert "Targets of the project's reference machine" in out


def test_summary_line_is_the_paired_ratio_against_the_fastest_other():
    info = {"cpu": "Some CPU", "versions": {"fastlogistic": "9.9"},
            "fastlogistic_config": {"simd_level": "avx2"}}
    results = [_row("fastlogistic", [1.0, 1.0, 1.0]),
               _row("numpy", [3.0, 4.0, 5.0]),
               _row("torch", [2.0, 1.5, 2.5]),        # the fastest other: median 2.0
               _row("copy", [0.5, 0.5, 0.5]),         # a reference, not a library
               _row("fastlogistic", [2.0, 2.0], threads=2, shape=(10**7,)),
               _row("torch", [5.0, 7.0], threads=2, shape=(10**7,))]
    line = _bench.summary_line(info, results)
    assert line.startswith("fastlogistic 9.9 on Some CPU (avx2, 1 thread unless said)")
    assert "sigmoid f64 N=1e6: 2.00x torch" in line
    assert "sigmoid f64 N=1e7 2 threads: 3.00x torch" in line
    assert "copy" not in line


def test_numexpr_and_numba_rows_when_installed(capsys):
    """numexpr and numba appear as peers of the sigmoid when installed, each
    computing the sigmoid (checked against fastlogistic's values)."""
    import numpy as np
    have = [name for name, mod in (("numexpr", "numexpr"), ("numba_vectorize", "numba"),
                                   ("numba_prange", "numba"))
            if _bench._import(mod) is not None]
    if not have:
        pytest.skip("neither numexpr nor numba is installed")
    libs = _bench.init()
    d = _bench.make_inputs("unary", (1000,), "float64")
    expected = fl.sigmoid(d["x"])
    for name in have:
        impl = _bench.FUNCTIONS["sigmoid"].impls[name]
        assert _bench._available(impl)
        timed = impl.factory(d, 2 if impl.threaded else 1)
        if timed.before:
            timed.before()
        np.testing.assert_allclose(timed.call(), expected, rtol=1e-12)
    assert libs is not None
    argv = ["--functions", "sigmoid", "--sizes", "1e3", "--dtypes", "float32", "--impls",
            ",".join(have), "--repeat", "1", "--quiet"]
    assert _bench.main(argv) == 0
    out = capsys.readouterr().out
    for name in have:
        assert f"  {name} " in out


def test_module_command_runs():
    """The command as the README writes it (a tiny case)."""
    r = subprocess.run([sys.executable, "-m", "fastlogistic", "bench", "--functions", "sigmoid",
                        "--sizes", "64", "--dtypes", "float32", "--impls", "numpy",
                        "--repeat", "1", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "sigmoid  float32  N=64" in r.stdout and "fastlogistic" in r.stdout


def test_copy_reference_gives_each_elementwise_row_its_memory_fraction(tmp_path, capsys):
    path = tmp_path / "c.json"
    argv = ["--functions", "sigmoid,bce_logits", "--sizes", "1e3", "--dtypes", "float64",
            "--impls", "copy", "--repeat", "3", "--quiet", "--json", str(path)]
    assert _bench.main(argv) == 0
    out = capsys.readouterr().out
    rows = json.loads(path.read_text())["results"]
    for function in ("sigmoid", "bce_logits"):
        ours = _bench.find_row(rows, function, (1000,), "float64", "fastlogistic", 1)
        copy = _bench.find_row(rows, function, (1000,), "float64", "copy", 1)
        assert ours["copy_fraction"] == pytest.approx(_bench.paired_ratio(copy, ours))
    assert out.count("memory limit (1t): a copy of x takes") == 2


def test_class_sweep_table_is_made_of_the_measured_rows(tmp_path, capsys):
    path = tmp_path / "k.json"
    argv = ["--classes", "2,3", "--total", "600", "--dtypes", "float32", "--impls", "numpy",
            "--repeat", "2", "--quiet", "--json", str(path)]
    assert _bench.main(argv) == 0
    out = capsys.readouterr().out
    data = json.loads(path.read_text())
    shapes = {(r["function"], tuple(r["shape"])) for r in data["results"]}
    assert {("softmax", (300, 2)), ("softmax", (200, 3)),
            ("cross_entropy_loss_and_grad", (300, 2)),
            ("cross_entropy_loss_and_grad", (200, 3)),
            ("bce_logits_loss_and_grad", (600,))} <= shapes
    table = {(r["dtype"], r["classes"]): r for r in data["classes"]}
    assert set(table) == {("float32", 2), ("float32", 3)}
    binary = _bench.find_row(data["results"], "bce_logits_loss_and_grad", (600,), "float32",
                             "fastlogistic", 1)
    for (_, k), r in table.items():
        ce = _bench.find_row(data["results"], "cross_entropy_loss_and_grad", (600 // k, k),
                             "float32", "fastlogistic", 1)
        assert r["ce"] == ce["ns_per_element"]
        assert r["ce_over_binary"] == pytest.approx(ce["ns_per_element"] /
                                                    binary["ns_per_element"])
        assert r["ce_vs_torch"] is None          # torch not asked for
    assert "Class-count sweep" in out
    # the README's markdown table (scripts/speed_table.py --classes) from the same rows
    from fastlogistic.bench.report import class_markdown
    md = class_markdown(data["results"]).splitlines()
    assert len(md) == 2 + len(table)
    for line, k in zip(md[2:], (2, 3)):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[:3] == [str(k), "float32", f"{table[('float32', k)]['ce']:.2f}"]
        assert cells[3] == "—"                   # no torch row


def test_sklearn_bench_multiclass_problem_and_methods():
    pytest.importorskip("sklearn")
    from fastlogistic.bench import sklearn as bs
    X, y = bs.problem(3000, 5, classes=4)
    assert X.shape == (3000, 5) and set(np.unique(y)) == {0.0, 1.0, 2.0, 3.0}
    rows = bs.methods(n=500, classes=3, repeats=1)
    assert {(r[0], r[1]) for r in rows} == {
        (m, lay) for m in ("loss", "loss_gradient", "gradient", "gradient_hessian",
                           "gradient_proba") for lay in ("C", "F")}
    assert all(r[4] == pytest.approx(r[2] / r[3]) for r in rows)
    assert not any(fl.is_patched().values())
