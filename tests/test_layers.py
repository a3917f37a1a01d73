"""The import contracts of pyproject.toml bite: a backward import fails `lint-imports`.

Each check runs import-linter in its own process (in this one the apps are already
imported from the real tree), on the real tree or on a copy of its packages with one
backward import added.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_LINT = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def lint_imports(cwd: Path, *contracts: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-c", _LINT, "--no-cache"]
    for contract in contracts:
        args += ["--contract", contract]
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)


@pytest.fixture
def tree_copy(tmp_path) -> Path:
    """The root packages' Python files and pyproject.toml, copied."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for package in config["tool"]["importlinter"]["root_packages"]:
        if (ROOT / package).is_dir():
            shutil.copytree(
                ROOT / package,
                tmp_path / package,
                ignore=shutil.ignore_patterns("__pycache__", "templates", "static", "*.html"),
            )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_tree_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_batches_importing_dosing_breaks_the_layers_contract(tree_copy):
    assert lint_imports(tree_copy, "layers").returncode == 0
    (tree_copy / "batches" / "_backward.py").write_text("import dosing\n")
    result = lint_imports(tree_copy, "layers")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert "batches._backward -> dosing" in result.stdout


def test_patients_importing_batches_breaks_the_layers_contract(tree_copy):
    """Siblings: neither may import the other."""
    (tree_copy / "patients" / "_sideways.py").write_text("import batches\n")
    result = lint_imports(tree_copy, "layers")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "patients._sideways -> batches" in result.stdout


def test_a_function_level_import_of_the_writer_by_the_trail_models_breaks_its_contract(
    tree_copy,
):
    models = tree_copy / "audit" / "models.py"
    models.write_text(
        models.read_text() + "\n\ndef _late():\n    from audit.writer import write_event\n"
    )
    result = lint_imports(tree_copy, "audit-trail")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "audit.models -> audit.writer" in result.stdout
