"""Type information: the typed usage file passes mypy against the package the
tests import (its py.typed and .pyi stubs), a wrong call fails it, and the
stubs match the runtime signatures (mypy's stubtest)."""
import ast
import os
import subprocess
import sys
import textwrap

import pytest

import fastlogistic
from fastlogistic import _registry

pytest.importorskip("mypy")

# the modules whose stubs declare the public functions imported at
# `import fastlogistic` (from the registry), and the compiled module
STUBBED = sorted({p.module for p in _registry.PUBLIC if not p.lazy})

HERE = os.path.dirname(os.path.abspath(__file__))
PKG_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastlogistic.__file__)))


def _mypy_env():
    """mypy finds an installed package (py.typed) in site-packages by itself;
    a source tree on PYTHONPATH (src/) it finds through MYPYPATH, which must
    not name site-packages."""
    env = dict(os.environ)
    if os.path.basename(PKG_PARENT) not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = PKG_PARENT
    return env


def _mypy(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mypy", "--no-incremental",
                           "--cache-dir", os.devnull, *args],
                          capture_output=True, text=True, timeout=600, env=_mypy_env(), cwd=cwd)


def test_package_ships_type_information():
    root = os.path.dirname(os.path.abspath(fastlogistic.__file__))
    for name in ["py.typed", "_kernels.pyi", "_typing.pyi"] + [f"{m}.pyi" for m in STUBBED]:
        assert os.path.isfile(os.path.join(root, name)), name


def test_typed_usage_passes_mypy(tmp_path):
    r = _mypy(os.path.join(HERE, "typing", "usage.py"), cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success" in r.stdout


def test_mypy_rejects_a_wrong_call(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent("""
        import numpy as np
        import fastlogistic as fl
        fl.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(3), reduction="avg")
        fl.sigmoid(np.zeros(3), num_threads="2")
        a: np.ndarray = fl.cross_entropy(np.zeros((2, 2)), [0, 1])
    """))
    r = _mypy(str(bad), cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    for line in (4, 5, 6):
        assert f"bad.py:{line}: error" in r.stdout, r.stdout


def test_stubs_match_the_runtime(tmp_path):
    modules = [f"fastlogistic.{m}" for m in STUBBED] + ["fastlogistic._kernels"]
    env = _mypy_env()
    env["PYTHONPATH"] = os.pathsep.join([PKG_PARENT] + [p for p in
                                         env.get("PYTHONPATH", "").split(os.pathsep) if p])
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "--allowlist",
                        os.path.join(HERE, "typing", "stubtest_allowlist.txt"), *modules],
                       capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr


def _stub_returns(module):
    """{name: [return annotation source of each definition]} of a stub."""
    root = os.path.dirname(os.path.abspath(fastlogistic.__file__))
    with open(os.path.join(root, module.replace(".", os.sep) + ".pyi")) as fh:
        tree = ast.parse(fh.read())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            found.setdefault(node.name, []).append(
                ast.unparse(node.returns) if node.returns is not None else "")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found.setdefault(node.target.id, []).append(ast.unparse(node.annotation))
        elif isinstance(node, ast.ClassDef):
            found.setdefault(node.name, []).append("class")
    return found


@pytest.mark.parametrize("rec", [p for p in _registry.PUBLIC if not p.lazy],
                         ids=lambda p: p.name)
def test_stubs_declare_every_registered_function(rec):
    """Each public function of the registry is declared in its module's stub,
    a ufunc as np.ufunc, and a function with two results returns tuples."""
    stubs = _stub_returns(rec.module).get(rec.name)
    assert stubs, f"{rec.name} is not declared in {rec.module}.pyi"
    if rec.kind == "ufunc":
        assert stubs == ["np.ufunc"], stubs
    if len(rec.outputs) == 2:
        typed = [r for r in stubs if r not in ("Any", "")]
        assert typed and all(r.startswith("tuple[") for r in typed), stubs
