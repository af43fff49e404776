"""A non-editable install reads the same data files as a checkout: the wheel carries every
non-Python file under the packages (knowledge YAML, the re-ranker's coefficients, the
regulation digests, prompts, templates, static files, evaluation datasets)."""

import importlib.util
import shutil
import subprocess
import sys
import tomllib
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
#: top-level entries never shipped and not needed to build the wheel
_NOT_SOURCES = {
    ".venv",
    ".venv-fuzz",
    ".langgraph_api",
    ".git",
    "data",
    "build",
    "dist",
    "tests",
    "test-artifacts",
}


def package_dirs() -> list[Path]:
    """The top-level package folders ``packages.find`` includes."""
    names = {p.rstrip("*").rstrip(".") for p in SETUPTOOLS["packages"]["find"]["include"]}
    return sorted(ROOT / n for n in names if (ROOT / n / "__init__.py").exists())


def data_files() -> list[str]:
    """Every non-Python file under the packages, relative to the repository root."""
    return sorted(
        p.relative_to(ROOT).as_posix()
        for d in package_dirs()
        for p in d.rglob("*")
        if p.is_file()
        and p.suffix not in (".py", ".pyc")
        and not any(part.startswith((".", "__pycache__")) for part in p.relative_to(d).parts)
    )


def test_package_data_globs_cover_every_data_file() -> None:
    files = data_files()
    assert "knowledge/data/reranker.json" in files and "knowledge/data/taxonomy.yaml" in files
    assert any(f.startswith("knowledge/regulations/") for f in files)
    globs = SETUPTOOLS["package-data"]["*"]
    missing = [f for f in files if not any(fnmatch(Path(f).name, g) for g in globs)]
    assert not missing, f"add their patterns to [tool.setuptools.package-data]: {missing}"


@pytest.mark.skipif(importlib.util.find_spec("build") is None, reason="needs the build package")
def test_the_wheel_ships_every_data_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(
        ROOT,
        src,
        ignore=lambda d, names: [
            n
            for n in names
            if n == "__pycache__"
            or n.endswith(".egg-info")
            or (Path(d) == ROOT and n in _NOT_SOURCES)
        ],
    )
    out = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("sanji-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert "knowledge/data/reranker.json" in shipped
    assert "knowledge/data/builtin-vectors.npy" in shipped  # a fresh data dir needs no model
    assert sorted(set(data_files()) - shipped) == []
