"""``bayesopt init``: write a new experiment file from a template that runs as written.

The templates live in :mod:`flows.templates`, as Python files that ruff, mypy and the
tests check like any other code. Each one names its experiment ``"my-experiment"``;
the file written replaces that name by the one asked for.
"""

from __future__ import annotations

import keyword
import re
from importlib import resources
from pathlib import Path

from bayesopt.errors import InvalidExperimentError, describe

#: The templates ``bayesopt init --template`` offers, with what each one shows.
TEMPLATES = {
    "branin": "a 2-D test function: every field of an experiment, commented",
    "sklearn": "tuning a scikit-learn model by cross-validation (log-scaled and categorical)",
    "numpyro": "your own NumPyro model of the response as the surrogate",
    "multiobjective": "two objectives, an outcome constraint and a stopping rule",
}
PLACEHOLDER = '"my-experiment"'
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$")


def template_source(template: str) -> str:
    """The text of a template, as shipped with the package."""
    if template not in TEMPLATES:
        raise InvalidExperimentError(
            f"template: got {describe(template)}; valid templates are "
            + ", ".join(f"'{t}'" for t in TEMPLATES)
        )
    return (resources.files("flows.templates") / f"{template}.py").read_text(encoding="utf-8")


def target_path(name: str, directory: Path | None = None) -> tuple[str, Path]:
    """The experiment name and the file for ``bayesopt init NAME``.

    ``NAME`` is an experiment name (``my-experiment``) or a file path ending in ``.py``
    (``experiments/my_experiment.py``); the file's name is the experiment's name with
    ``-`` and ``.`` turned into ``_``, so that it can be imported as a module.
    """
    given = Path(name)
    if given.suffix == ".py":
        stem, parent = given.stem, given.parent
    else:
        stem, parent = name, Path()
    if not _NAME_RE.match(stem):
        raise InvalidExperimentError(
            f"name: got {describe(name)}; expected an experiment name of 1-200 letters, digits, "
            "'_', '.' or '-' starting with a letter or digit (or a path to a .py file so named)"
        )
    module = re.sub(r"[.\-]", "_", stem)
    if keyword.iskeyword(module):
        module += "_experiment"
    path = (directory or Path()) / parent / f"{module}.py"
    return stem, path


def write_experiment(
    name: str, template: str = "branin", directory: Path | None = None, force: bool = False
) -> Path:
    """Write the experiment file for ``name`` from ``template``; return its path.

    Refuses to overwrite an existing file unless ``force``: an experiment file is the
    user's work.
    """
    source = template_source(template)
    stem, path = target_path(name, directory)
    if path.exists() and not force:
        raise InvalidExperimentError(
            f"name: {path} already exists; choose another name, or pass --force to overwrite it"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    text = source.replace(PLACEHOLDER, f'"{stem}"').replace("my-experiment", stem)
    text = text.replace("my_experiment.py", path.name)
    path.write_text(text, encoding="utf-8")
    return path
