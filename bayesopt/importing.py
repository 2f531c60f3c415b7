"""Import completed trials from earlier work or another tool into an experiment's store.

A table of finished trials, one row per trial (a CSV file or a pandas DataFrame),
becomes completed trials of the experiment, so the next decision learns from them:
they count toward the initial design, and the model is fitted to them.

Columns:

- every tunable parameter and every modelled outcome (the objectives, then the
  constrained outcomes) must be a column;
- a ``Fixed`` parameter may be left out (it is filled in) or given (it must equal
  its fixed value; a blank cell is filled in);
- ``<outcome>_sem`` (optional) gives the standard error of that outcome: the row
  becomes a ``(mean, sem)`` observation; a blank cell means none;
- extra outcomes (numbers, blank where not measured) are kept with the values:
  the keys the experiment's ``evaluate`` returns (read from its source), outcomes
  already recorded in the store, the keys of ``outcome_bounds``, and the names
  passed as ``extras``;
- the bookkeeping columns of :meth:`Optimizer.trials` (:data:`BOOKKEEPING_COLUMNS`)
  are ignored, except ``status``: when present, only rows whose status is
  ``completed`` are imported, and the others are skipped and counted;
- an unnamed column (the index that ``DataFrame.to_csv`` writes by default) is ignored;
- any other column is refused, naming it: a misspelt ``_sem`` column or outcome
  would otherwise be dropped without a word.

The import is all or nothing. Every row is checked against the space (bounds,
integers, categories, linear constraints) and the outcomes (finite numbers,
``outcome_bounds``, standard errors finite and ``>= 0``); a row that repeats the
parameters of an earlier row, or of a trial already completed in the store, is
refused too, so importing the same file twice is refused rather than doubled. The
first problem refuses the whole import with an :class:`InvalidImportError` that names
the row (the 1-based data row, and for a CSV file its line), the column, the value
given and what is valid; otherwise every row is added in one transaction.

Examples:
    >>> import pandas as pd
    >>> from bayesopt import Experiment, Float, Objective, Optimizer
    >>> exp = Experiment(name="imported", parameters=[Float("x", 0.0, 1.0)],
    ...                  objectives=[Objective("y")])
    >>> opt = Optimizer(exp, seed=0)
    >>> earlier = pd.DataFrame({"x": [0.1, 0.5], "y": [0.04, 0.04], "y_sem": [0.01, None]})
    >>> [(t.params, t.values, t.sems, t.generator) for t in opt.import_trials(earlier)]
    [({'x': 0.1}, {'y': 0.04}, {'y': 0.01}, 'import'), ({'x': 0.5}, {'y': 0.04}, None, 'import')]
"""

from __future__ import annotations

import csv
import logging
import math
import numbers
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayesopt.errors import InvalidImportError, InvalidOutcomeError, InvalidSpaceError, describe
from bayesopt.experiment import Experiment, _returned_keys
from bayesopt.space import Choice, ChoiceValue, Fidelity, Fixed, Float, Int, Parameter
from bayesopt.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from bayesopt.optimizer import Optimizer

logger = logging.getLogger("bayesopt")

#: Columns of :meth:`Optimizer.trials` (and of :class:`Trial`) that say how a trial was
#: made rather than what it measured; an import ignores them, except ``status``.
BOOKKEEPING_COLUMNS = (
    "id",
    "status",
    "step",
    "generator",
    "failure_reason",
    "worker",
    "created_at",
    "started_at",
    "finished_at",
    "heartbeat_at",
    "feasible",
    "at_target",
    "evaluation_cost",
)

#: Suffix of a column holding the standard error of the outcome it is named after.
SEM_SUFFIX = "_sem"

#: What ``pd.read_csv`` calls a column without a header (the written index).
_UNNAMED = re.compile(r"^Unnamed: \d+$")

Source = pd.DataFrame | str | os.PathLike[str]


@dataclass(frozen=True)
class PreparedImport:
    """Rows that passed every check that needs no store, ready to be added.

    Attributes:
        experiment: Name of the experiment they were checked against.
        source: The file name, or ``"DataFrame"``.
        rows: One dict per trial to add (``params``, ``values``, ``sems``,
            ``generator``, ``metadata``), in the order of the source.
        places: Where each row came from, for messages: ``"row 3 (trials.csv line 4)"``.
        skipped: Rows left out because their ``status`` is not ``completed``.
    """

    experiment: str
    source: str
    rows: tuple[dict[str, Any], ...]
    places: tuple[str, ...]
    skipped: int


@dataclass(frozen=True)
class _Record:
    number: int
    place: str
    cells: dict[str, object]


@dataclass(frozen=True)
class _Layout:
    """Which column plays which part."""

    params: tuple[Parameter, ...]
    outcomes: tuple[str, ...]
    sems: dict[str, str]
    status: bool


def import_trials(
    optimizer: Optimizer,
    source: Source,
    *,
    generator: str = "import",
    extras: Iterable[str] = (),
) -> list[Trial]:
    """Add the completed trials of a table to the optimizer's store, all or none.

    See the module docstring for the columns a table may have.

    Args:
        optimizer: The optimizer whose experiment and store receive the trials.
        source: A pandas DataFrame, or the path of a CSV file (UTF-8, header line first).
        generator: Recorded as each trial's generator.
        extras: Names of further columns to keep as extra outcomes (numbers).

    Returns:
        The created trials, completed, in the order of the rows.

    Raises:
        InvalidImportError: a column is missing or unknown, a row does not fit the
            experiment, or repeats a point; nothing was written.
    """
    prepared = prepare_import(optimizer, source, generator=generator, extras=extras)
    return commit_import(optimizer, prepared)


def prepare_import(
    optimizer: Optimizer,
    source: Source,
    *,
    generator: str = "import",
    extras: Iterable[str] = (),
) -> PreparedImport:
    """Read a table and check every row against the experiment; nothing is written.

    Rows that repeat a trial already in the store are found by :func:`commit_import`,
    under the store's lock.

    Args:
        optimizer: The optimizer whose experiment the rows must fit.
        source: A pandas DataFrame, or the path of a CSV file.
        generator: Recorded as each trial's generator.
        extras: Names of further columns to keep as extra outcomes (numbers).

    Returns:
        The rows to add and the number of rows skipped for their ``status``.

    Raises:
        InvalidImportError: a column is missing or unknown, or a row does not fit.
    """
    experiment = optimizer.experiment
    known = _known_extras(optimizer, extras)
    source_name, header, records = _read(source)
    layout = _layout(experiment, header, known, source_name)
    rows: list[dict[str, Any]] = []
    places: list[str] = []
    seen: dict[tuple[Any, ...], str] = {}
    skipped = 0
    for record in records:
        if layout.status and not _is_completed(record):
            skipped += 1
            continue
        params = _params(experiment, layout, record)
        key = _point_key(params, experiment.space.names)
        if key in seen:
            raise InvalidImportError(
                f"import: {record.place} has the same parameters as {seen[key]}: "
                f"{_show(params)}; each point can be imported once (give repeated "
                f"measurements as their mean, with its standard error in '<outcome>{SEM_SUFFIX}')"
            )
        seen[key] = record.place
        values, sems = _outcomes(experiment, layout, record)
        rows.append(
            {
                "params": params,
                "values": values,
                "sems": sems or None,
                "generator": generator,
                "metadata": {"imported_from": source_name, "import_row": record.number},
            }
        )
        places.append(record.place)
    return PreparedImport(experiment.name, source_name, tuple(rows), tuple(places), skipped)


def commit_import(optimizer: Optimizer, prepared: PreparedImport) -> list[Trial]:
    """Add prepared rows as completed trials, in one transaction under the store's lock.

    Args:
        optimizer: The optimizer that prepared them (same experiment).
        prepared: What :func:`prepare_import` returned.

    Returns:
        The created trials, in the order of the rows.

    Raises:
        InvalidImportError: a row repeats the parameters of a trial already completed
            in the store (nothing is written), or the rows were prepared for another
            experiment.
    """
    experiment = optimizer.experiment
    if prepared.experiment != experiment.name:
        raise InvalidImportError(
            f"import: these rows were checked against experiment '{prepared.experiment}', "
            f"not '{experiment.name}'; prepare them with this experiment's optimizer"
        )
    names = experiment.space.names
    store, experiment_id = optimizer.store, optimizer._record.id
    with store.locked(experiment_id) as conn:
        done: dict[tuple[Any, ...], int] = {}
        for trial in store.trials(experiment_id, [TrialStatus.COMPLETED], conn=conn):
            done.setdefault(_point_key(trial.params, names), trial.id)
        for row, place in zip(prepared.rows, prepared.places, strict=True):
            stored = done.get(_point_key(row["params"], names))
            if stored is not None:
                raise InvalidImportError(
                    f"import: {place} has the same parameters as trial {stored}, already "
                    f"completed in experiment '{experiment.name}': {_show(row['params'])}; "
                    "nothing was imported (was this table imported before?)"
                )
        created = store.add_trials(
            experiment_id, list(prepared.rows), status=TrialStatus.COMPLETED, conn=conn
        )
    logger.info(
        "imported %d trial(s) from %s into experiment '%s' (%d row(s) skipped: not completed)",
        len(created),
        prepared.source,
        experiment.name,
        prepared.skipped,
    )
    return created


# ------------------------------------------------------------------- reading
def _read(source: object) -> tuple[str, list[str], list[_Record]]:
    """The source's name, its column names and its rows."""
    if isinstance(source, pd.DataFrame):
        return _read_frame(source)
    if isinstance(source, str | os.PathLike):
        return _read_csv(Path(source))
    raise InvalidImportError(
        f"import: source: got {describe(source)}; expected a pandas DataFrame or the path of "
        "a CSV file"
    )


def _read_frame(frame: pd.DataFrame) -> tuple[str, list[str], list[_Record]]:
    names = [str(c).strip() for c in frame.columns]
    _check_header(names, "the DataFrame")
    keep = [i for i, name in enumerate(names) if name and not _UNNAMED.match(name)]
    index = frame.index
    plain = isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1
    records = []
    for pos, (label, row) in enumerate(
        zip(index, frame.itertuples(index=False, name=None), strict=True)
    ):
        number = pos + 1
        shown = label.item() if isinstance(label, np.generic) else label
        place = f"row {number}" if plain else f"row {number} (index {describe(shown)})"
        records.append(_Record(number, place, {names[i]: row[i] for i in keep}))
    return "DataFrame", [names[i] for i in keep], records


def _read_csv(path: Path) -> tuple[str, list[str], list[_Record]]:
    name = path.name
    header: list[str] | None = None
    records: list[_Record] = []
    line = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for fields in reader:
                start, line = line + 1, reader.line_num
                if not any(f.strip() for f in fields):
                    continue  # a blank line, or a spreadsheet's empty row
                if header is None:
                    header = [f.strip() for f in fields]
                    _check_header(header, name)
                    continue
                number = len(records) + 1
                place = f"row {number} ({name} line {start})"
                if len(fields) != len(header):
                    raise InvalidImportError(
                        f"import: {place} has {len(fields)} fields, but the header has "
                        f"{len(header)} columns {header}; quote values that contain commas"
                    )
                cells: dict[str, object] = {h: f for h, f in zip(header, fields, strict=True) if h}
                records.append(_Record(number, place, cells))
    except FileNotFoundError:
        raise InvalidImportError(
            f"import: file '{path}' not found; give the path of a CSV file"
        ) from None
    except UnicodeDecodeError:
        raise InvalidImportError(
            f"import: '{path}' is not UTF-8 text; save the table as a UTF-8 CSV file"
        ) from None
    except csv.Error as exc:
        raise InvalidImportError(f"import: {name} line {line + 1}: {exc}") from None
    except OSError as exc:
        raise InvalidImportError(f"import: cannot read '{path}': {exc.strerror or exc}") from None
    if header is None:
        raise InvalidImportError(
            f"import: '{path}' is empty; expected a header line naming the columns, then one "
            "line per trial"
        )
    return name, [h for h in header if h], records


def _check_header(names: Sequence[str], where: str) -> None:
    dupes = sorted({n for n in names if n and names.count(n) > 1})
    if dupes:
        raise InvalidImportError(
            f"import: {where} has the column(s) {dupes} more than once; each column must be unique"
        )


# ------------------------------------------------------------------- columns
def _known_extras(optimizer: Optimizer, extras: Iterable[str]) -> set[str]:
    """Names a column may have to be kept as an extra outcome."""
    experiment = optimizer.experiment
    given = [extras] if isinstance(extras, str) else list(extras)
    for name in given:
        if not isinstance(name, str) or not name:
            raise InvalidImportError(
                f"import: extras: got {describe(name)}; expected outcome names (strings)"
            )
        if name in experiment.space.names:
            raise InvalidImportError(
                f"import: extras: '{name}' is a parameter; extras name outcome columns"
            )
    automatic: set[str] = set(experiment.outcome_bounds)
    if experiment.evaluate is not None:
        automatic |= _returned_keys(experiment.evaluate) or set()
    for trial in optimizer.all_trials(TrialStatus.COMPLETED):
        automatic |= set(trial.values or {})
    automatic -= set(BOOKKEEPING_COLUMNS) | set(experiment.space.names)
    return (automatic | set(given)) - set(experiment.modelled_outcomes)


def _layout(
    experiment: Experiment, header: Sequence[str], extras: set[str], source: str
) -> _Layout:
    """Assign each column its part, or refuse missing and unknown ones."""
    space = experiment.space
    modelled = list(experiment.modelled_outcomes)
    tunable = [p.name for p in space.tunable]
    fixed = [p.name for p in space.parameters if isinstance(p, Fixed)]
    missing = [c for c in [*tunable, *modelled] if c not in header]
    if missing:
        optional = f"; optional: '<outcome>{SEM_SUFFIX}' standard errors"
        if fixed:
            optional += f", the fixed parameters {fixed}"
        raise InvalidImportError(
            f"import: {source}: missing column(s) {missing}; expected one column per "
            f"parameter {tunable} and per outcome the model needs {modelled}{optional} "
            f"(it has {list(header)})"
        )
    outcomes = modelled + [c for c in header if c in extras]
    sems: dict[str, str] = {}
    unknown: list[str] = []
    for column in header:
        if column in space.names or column in outcomes:
            continue
        base = column[: -len(SEM_SUFFIX)]
        if column.endswith(SEM_SUFFIX) and base in outcomes:
            sems[base] = column
        elif column not in BOOKKEEPING_COLUMNS:
            unknown.append(column)
    if unknown:
        raise InvalidImportError(
            f"import: {source}: unknown column(s) {unknown}; the columns are the "
            f"parameters {list(space.names)}, the outcomes {outcomes}, their standard errors "
            f"'<outcome>{SEM_SUFFIX}' and the bookkeeping columns {list(BOOKKEEPING_COLUMNS)}; "
            "drop the column, or name it as an extra outcome "
            f"(extras={unknown!r}, or --extra on the command line)"
        )
    params = tuple(p for p in space.parameters if p.name in header)
    return _Layout(params, tuple(outcomes), sems, "status" in header)


# ---------------------------------------------------------------------- rows
def _is_completed(record: _Record) -> bool:
    """Whether the row's ``status`` is completed (others are skipped)."""
    cell = record.cells["status"]
    text = "" if _is_blank(cell) else str(cell).strip().lower()
    valid = [s.value for s in TrialStatus]
    if text not in valid:
        raise InvalidImportError(
            f"import: {record.place}, column 'status': {_given(cell)} is not a trial status; "
            f"valid are {valid} (only completed rows are imported)"
        )
    return text == TrialStatus.COMPLETED.value


def _params(experiment: Experiment, layout: _Layout, record: _Record) -> dict[str, Any]:
    """The row's point, checked and with canonical types (fixed parameters filled in)."""
    space = experiment.space
    point: dict[str, Any] = {}
    for param in layout.params:
        cell = record.cells[param.name]
        if _is_blank(cell):
            if isinstance(param, Fixed):
                continue  # filled in by Space.validate
            raise InvalidImportError(
                f"import: {record.place}, parameter '{param.name}': no value (blank); every "
                "imported trial needs a value for each parameter"
            )
        try:
            point[param.name] = _param_value(param, cell)
        except InvalidSpaceError as exc:
            raise InvalidImportError(f"import: {record.place}, {exc}") from None
    full = space.validate(point, constraints=False)  # each value is checked: fills Fixed
    for constraint in space.constraints:
        if not constraint.holds(full):
            coefficients = constraint.coefficients
            lhs = sum(c * float(full[k]) for k, c in coefficients.items())
            raise InvalidImportError(
                f"import: {record.place}, constraint '{constraint}': violated by "
                f"{_show({k: full[k] for k in coefficients})} (the left side is {lhs:g}); every "
                "imported point must satisfy the parameter constraints"
            )
    return full


def _param_value(param: Parameter, cell: object) -> Any:
    """A cell as the parameter's value; ``InvalidSpaceError`` names what is wrong."""
    if isinstance(param, Float | Int | Fidelity):
        integer = isinstance(param, Int) or (isinstance(param, Fidelity) and param.integer)
        kind = "an integer" if integer else "a number"
        number = _as_number(cell)
        if number is None:
            raise InvalidSpaceError(
                f"parameter '{param.name}': {_given(cell)} is not a number; expected {kind} in "
                f"[{param.low}, {param.high}]"
            )
        if not math.isfinite(number):
            raise InvalidSpaceError(
                f"parameter '{param.name}': {_given(cell)} is not a finite number; expected "
                f"{kind} in [{param.low}, {param.high}]"
            )
        return param.validate(number)
    if isinstance(param, Choice):
        return param.validate(_match(param.values, cell))
    return param.validate(_match((param.value,), cell))


def _match(values: Sequence[ChoiceValue], cell: object) -> object:
    """The value among ``values`` that ``cell`` stands for (its text form, e.g. "relu",
    "True", "3"), or ``cell`` itself when none does."""
    given = cell.item() if isinstance(cell, np.generic) else cell
    for value in values:
        if type(value) is type(given) and value == given:
            return value
    if isinstance(given, str):
        text = given.strip()
        for value in values:
            if str(value) == text or (
                isinstance(value, bool) and str(value).lower() == text.lower()
            ):
                return value
    number = _as_number(given)
    if number is not None and not isinstance(given, bool):
        for value in values:
            if isinstance(value, int | float) and not isinstance(value, bool) and value == number:
                return value
    return cell


def _outcomes(
    experiment: Experiment, layout: _Layout, record: _Record
) -> tuple[dict[str, float], dict[str, float]]:
    """The row's outcome values and standard errors, checked."""
    modelled = experiment.modelled_outcomes
    raw: dict[str, float | tuple[float, float]] = {}
    for name in layout.outcomes:
        cell = record.cells[name]
        value = _finite(cell, record, f"outcome '{name}'")
        sem_column = layout.sems.get(name)
        sem = None
        if sem_column is not None:
            sem = _finite(record.cells[sem_column], record, f"column '{sem_column}'")
            if sem is not None and sem < 0:
                given = _given(record.cells[sem_column])
                raise InvalidImportError(
                    f"import: {record.place}, column '{sem_column}': {given} is negative; the "
                    f"standard error of '{name}' must be a number >= 0 (blank: none)"
                )
        if value is None:
            if name in modelled:
                raise InvalidImportError(
                    f"import: {record.place}, outcome '{name}': no value (blank); a completed "
                    f"trial needs every objective and constrained outcome {list(modelled)}"
                )
            if sem is not None:
                raise InvalidImportError(
                    f"import: {record.place}, column '{sem_column}': a standard error without a "
                    f"value of '{name}'; give the value or leave both blank"
                )
            continue
        raw[name] = value if sem is None else (value, sem)
    try:
        return experiment.check_observation(raw)
    except InvalidOutcomeError as exc:
        raise InvalidImportError(f"import: {record.place}, {exc}") from None


def _finite(cell: object, record: _Record, field: str) -> float | None:
    """A cell as a finite number, ``None`` when blank; refused otherwise."""
    if _is_blank(cell):
        return None
    number = _as_number(cell)
    if number is None:
        raise InvalidImportError(f"import: {record.place}, {field}: {_given(cell)} is not a number")
    if not math.isfinite(number):
        raise InvalidImportError(
            f"import: {record.place}, {field}: {_given(cell)} is not a finite number"
        )
    return number


# ------------------------------------------------------------------- helpers
def _is_blank(cell: object) -> bool:
    """An empty CSV cell, or a DataFrame's missing value (None, NaN, NA)."""
    if isinstance(cell, str):
        return not cell.strip()
    if isinstance(cell, float | np.floating):
        return math.isnan(cell)
    return cell is None or cell is pd.NA or cell is pd.NaT


def _as_number(cell: object) -> float | None:
    """A cell as a float (text is parsed), or ``None`` when it is no number."""
    if isinstance(cell, str):
        try:
            return float(cell.strip())
        except ValueError:
            return None
    if isinstance(cell, bool | np.bool_) or not isinstance(cell, numbers.Real):
        return None
    return float(cell)


def _given(cell: object) -> str:
    """A cell as given, for messages: numbers as written, text quoted."""
    if isinstance(cell, str):
        text = cell.strip()
        number = _as_number(text)
        return text if number is not None else describe(text)
    if isinstance(cell, np.generic):
        cell = cell.item()
    return describe(cell)


def _point_key(params: Mapping[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(params.get(name) for name in names)


def _show(params: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in params.items()) + "}"
