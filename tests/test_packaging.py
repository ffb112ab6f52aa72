"""Packaging facts a user or a package index relies on: the test requirements
file and the "test" extra list the same packages, the metadata names the
licence that ships, and the command line answers --help and --version."""
import os
import re
import subprocess
import sys

import pytest

import fastlogistic

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _requirements(path):
    with open(path) as f:
        return sorted(line.split("#")[0].strip() for line in f
                      if line.split("#")[0].strip())


def test_requirements_test_txt_matches_the_test_extra():
    tomllib = pytest.importorskip("tomllib")
    pyproject = os.path.join(ROOT, "pyproject.toml")
    if not os.path.exists(pyproject):
        pytest.skip("not a source tree")
    with open(pyproject, "rb") as f:
        meta = tomllib.load(f)["project"]
    assert sorted(meta["optional-dependencies"]["test"]) == \
        _requirements(os.path.join(ROOT, "requirements-test.txt"))
    assert meta["license"] == "BSD-3-Clause"
    with open(os.path.join(ROOT, meta["license-files"][0])) as f:
        text = f.read()
    assert "Redistribution and use in source and binary forms" in text
    assert "fastlogistic developers" in text


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fastlogistic", *args],
                          capture_output=True, text=True, timeout=120)


def test_version():
    r = _cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"fastlogistic {fastlogistic.__version__}"


@pytest.mark.parametrize("args", [["--help"], ["bench", "--help"], ["config", "--help"]])
def test_every_command_has_help(args):
    r = _cli(*args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: python -m fastlogistic" +
                               (f" {args[0]}" if len(args) > 1 else ""))


def test_every_bench_option_has_help_text():
    r = _cli("bench", "--help")
    options = set(re.findall(r"^  (--[a-z-]+)", r.stdout, re.M))
    assert {"--dtypes", "--targets", "--quick", "--impls"} <= options
    # an option without help text is followed directly by the next option line
    lines = r.stdout.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^  (-[-a-z]+)(?: [A-Z_]+)?(\s*)(.*)$", line)
        if m and m.group(1).startswith("--"):
            has_text = bool(m.group(3)) or (i + 1 < len(lines) and
                                            lines[i + 1].startswith(" " * 10))
            assert has_text, f"{m.group(1)} has no help text"


def test_config_command_prints_the_configuration():
    r = _cli("config")
    assert r.returncode == 0 and "simd_level" in r.stdout
    r = _cli("config", "--json")
    import json
    assert json.loads(r.stdout)["version"] == fastlogistic.__version__


def test_console_script_names_itself(tmp_path):
    """Run as the console script `fastlogistic` (a file of that name, as pip
    writes it), the usage names `fastlogistic`, not `python -m`."""
    script = tmp_path / "fastlogistic"
    script.write_text("import sys\nfrom fastlogistic.__main__ import main\nsys.exit(main())\n")
    r = subprocess.run([sys.executable, str(script), "config", "--help"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: fastlogistic config")


def test_unknown_command_exits_2():
    r = _cli("nope")
    assert r.returncode == 2 and "invalid choice" in r.stderr
