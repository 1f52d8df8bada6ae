"""The bundled sample datasets, installed with the package as ``mlops_tui.sample_data``.

The CSV files live in the repository's top-level ``sample_data/`` folder (README.md there names
their sources and licences); pyproject maps that folder into the package, so a wheel or
``pipx install`` carries them and ``mlops-tui init --sample`` works anywhere, not only from a
source checkout. Files are found through :mod:`importlib.resources`, never relative to the source
tree.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

# name -> (file, target)
SAMPLES: dict[str, tuple[str, str]] = {
    "bikeshare": ("bikeshare.csv", "bikers"),
    "penguins": ("penguins.csv", "species"),
    "default": ("default.csv", "default"),
}


def sample_path(file: str) -> Path:
    """The installed path of one bundled file (packages are installed unzipped, so it is a real file)."""
    path = Path(str(resources.files(__name__) / file))
    if not path.is_file():
        raise FileNotFoundError(f"bundled sample {file} is missing from the installation ({path})")
    return path
