"""Every script in examples/ runs (in its small mode) and prints what it
claims; each checks its own claims with assertions (same accuracy as
scikit-learn, same model as the built-in objective, same training run as
torch's loss), so a failing claim fails here.  Skipped when the library an
example needs is not installed."""
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")

CASES = [
    ("logistic_regression_gd.py", ["sklearn", "scipy"],
     ["fastlogistic gradient descent", "fastlogistic + SciPy L-BFGS", "sklearn LogisticRegression"]),
    ("softmax_regression_digits.py", ["sklearn", "scipy"],
     ["fastlogistic softmax regression (GD)", "sklearn LogisticRegression"]),
    ("gradient_boosting_objectives.py", ["sklearn", "xgboost", "lightgbm"],
     ["XGBoost", "LightGBM", "max |margin difference|"]),
    ("torch_training_loop.py", ["sklearn", "torch"],
     ["fastlogistic.torch.BCEWithLogitsLoss", "max |weight difference|"]),
]


def run(script, *args):
    # the scripts import the fastlogistic this test process imported (the
    # installed one in CI, src/ with PYTHONPATH=src), not necessarily src/
    import fastlogistic
    env = dict(os.environ)
    where = os.path.dirname(os.path.dirname(os.path.abspath(fastlogistic.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(
        [where] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, script), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("script,needs,expect", CASES, ids=[c[0] for c in CASES])
def test_example(script, needs, expect):
    for mod in needs:
        pytest.importorskip(mod)
    out = run(script, "--small")
    for text in expect:
        assert text in out, (text, out)


def test_plot_sigmoid(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    out = run("plot_sigmoid.py", "--out", str(png))
    assert "sigmoid_grad(0) = 0.25" in out and "sigmoid(0) = 0.5" in out
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
