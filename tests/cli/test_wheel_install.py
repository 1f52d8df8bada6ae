"""Installed from a wheel, away from the source tree, the workbench still has everything it ships:
every package of the tree, the TUI's styles and the sample data (`init --sample`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(ROOT)], check=True, capture_output=True, timeout=300)
    (path,) = out.glob("mlops_tui-*.whl")
    return path


def test_the_wheel_holds_every_package_of_the_tree(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {"mlops_tui": ROOT / "mlops_tui", "mlops_tui/store": ROOT / "store",
               "mlops_tui/screens": ROOT / "screens", "mlops_tui/sample_data": ROOT / "sample_data"}
    for prefix, folder in sources.items():
        for init in folder.rglob("__init__.py"):
            if "__pycache__" in init.parts:
                continue
            inside = init.relative_to(folder).as_posix()
            assert f"{prefix}/{inside}" in names, f"{init} is not in the wheel: list its package in pyproject.toml"
    assert "mlops_tui/screens/app.tcss" in names
    assert {"mlops_tui/sample_data/penguins.csv", "mlops_tui/sample_data/README.md"} <= names


def test_init_sample_works_from_a_wheel_installed_outside_the_repository(wheel, tmp_path):
    # A fresh venv holding only the wheel; its dependencies are borrowed from the test's own
    # environment by a path entry (installing them from the index would cost a minute), which
    # puts them after the venv's own site-packages: mlops_tui can only come from the wheel.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    str(wheel)], check=True, capture_output=True, timeout=300)

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLOPS_WORKSPACE")}
    exe = str(env_dir / "bin" / "mlops-tui")

    def run(*args: str) -> dict:
        done = subprocess.run([exe, "--workspace", str(work / "ws"), *args, "--json"], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    where = subprocess.run([python, "-c", "import mlops_tui; print(mlops_tui.__file__)"], cwd=work, env=env,
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(site)), where
    init = run("init", "--sample")
    assert sorted(d["name"] for d in init["datasets"]) == ["bikeshare", "default", "penguins"]
    listed = {d["name"]: d for d in run("dataset", "list")}
    assert listed["penguins"]["rows"] == 344 and listed["penguins"]["target"] == "species"
