"""A fresh virtual environment that borrows this one's installed dependencies.

The tests of installing and of the getting-started path need an environment that
does not hold the project, but reinstalling torch, JAX, Prefect and MLflow there
would take minutes and gigabytes. A path file in the new environment puts this
environment's site-packages after its own; a path line does not process that
directory's own path files, so the editable install of the source tree stays out.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def fresh_venv(path: Path) -> tuple[Path, str]:
    """Create the environment at ``path``; return its python and its site-packages."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    python = path / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site
