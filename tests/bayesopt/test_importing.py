"""Importing completed trials from a CSV file or a DataFrame, into a real SQLite store."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayesopt import (
    Choice,
    Experiment,
    Fixed,
    Float,
    Int,
    InvalidImportError,
    Objective,
    Optimizer,
    TrialStatus,
)
from bayesopt.importing import prepare_import
from tests.bayesopt.conftest import OpenOptimizer

HEADER = "x1,x2,n,act,width,flag,y,y_sem,cost"
GOOD_ROWS = [
    "1.5,2.0,3.0,tanh,32,True,0.25,0.01,7",
    "-5.0,15.0,1,relu,16,False,4.5,,",
    "10.0,0.0,5,relu,64,True,-1e-3,0,2.5",
]


@pytest.fixture
def mixed() -> Experiment:
    """Every kind of parameter, a parameter constraint and one objective."""
    return Experiment(
        name="mixed",
        parameters=[
            Float("x1", -5.0, 10.0),
            Float("x2", 0.0, 15.0),
            Int("n", 1, 5),
            Choice("act", ["relu", "tanh"]),
            Choice("width", [16, 32, 64], ordered=True),
            Choice("flag", [True, False]),
            Fixed("k", 3),
        ],
        objectives=[Objective("y")],
        constraints=["x1 + x2 <= 20"],
        initial_trials=3,
    )


def write(tmp_path: Path, *lines: str, name: str = "trials.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def snapshot(opt: Optimizer) -> list[tuple]:
    return [(t.id, t.status, t.params, t.values, t.sems, t.generator) for t in opt.all_trials()]


def test_a_csv_file_becomes_completed_trials(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path
) -> None:
    opt = open_optimizer(mixed)
    path = write(tmp_path, HEADER, *GOOD_ROWS)

    trials = opt.import_trials(path, extras=["cost"])

    assert [t.id for t in trials] == [0, 1, 2]
    assert trials[0].params == {
        "x1": 1.5, "x2": 2.0, "n": 3, "act": "tanh", "width": 32, "flag": True, "k": 3
    }  # fmt: skip
    assert type(trials[0].params["n"]) is int and type(trials[0].params["width"]) is int
    assert trials[1].params["flag"] is False and trials[1].params["act"] == "relu"
    assert [t.values for t in trials] == [
        {"y": 0.25, "cost": 7.0},
        {"y": 4.5},
        {"y": -1e-3, "cost": 2.5},
    ]
    assert [t.sems for t in trials] == [{"y": 0.01}, None, {"y": 0.0}]
    assert {t.status for t in trials} == {TrialStatus.COMPLETED}
    assert {t.generator for t in trials} == {"import"}
    assert [t.metadata for t in trials] == [
        {"imported_from": "trials.csv", "import_row": n} for n in (1, 2, 3)
    ]
    stored = opt.all_trials()
    assert [(t.params, t.values, t.sems, t.metadata) for t in stored] == [
        (t.params, t.values, t.sems, t.metadata) for t in trials
    ]


def test_a_dataframe_is_imported_with_its_own_types(
    open_optimizer: OpenOptimizer, mixed: Experiment
) -> None:
    opt = open_optimizer(mixed)
    frame = pd.DataFrame(
        {
            "x1": np.array([0.5, 2.0]),
            "x2": [1.0, 3.0],
            "n": [2.0, 4.0],  # an Int column read as float
            "act": ["relu", "tanh"],
            "width": np.array([64, 16]),
            "flag": np.array([False, True]),
            "k": [3, 3],  # a Fixed column, given: it must equal its value
            "y": [1.0, 2.0],
            "y_sem": [np.nan, 0.5],
        },
        index=[10, 11],
    )

    trials = opt.import_trials(frame)

    assert [t.params for t in trials] == [
        {"x1": 0.5, "x2": 1.0, "n": 2, "act": "relu", "width": 64, "flag": False, "k": 3},
        {"x1": 2.0, "x2": 3.0, "n": 4, "act": "tanh", "width": 16, "flag": True, "k": 3},
    ]
    assert [t.values for t in trials] == [{"y": 1.0}, {"y": 2.0}]
    assert [t.sems for t in trials] == [None, {"y": 0.5}]
    assert trials[1].metadata == {"imported_from": "DataFrame", "import_row": 2}

    bad = frame.assign(x1=[0.5, 11.0])
    with pytest.raises(InvalidImportError, match=r"row 2 \(index 11\), parameter 'x1': 11.0"):
        opt.import_trials(bad)


def test_imported_trials_feed_the_next_decision(
    open_optimizer: OpenOptimizer, quad: Experiment
) -> None:
    opt = open_optimizer(quad)  # initial_trials=3
    xs = [0.05, 0.2, 0.4, 0.6, 0.8, 0.95]
    frame = pd.DataFrame({"x": xs, "y": [0.5] * 6})
    frame["f"] = (frame["x"] - 0.3) ** 2 + frame["y"]

    assert len(opt.import_trials(frame)) == 6
    (trial,) = opt.suggest(1)

    assert trial.id == 6
    assert trial.generator not in ("sobol", "import")
    assert "surrogate" in trial.metadata


# Each case: the rows after the header, and what the message must say.
REFUSED = {
    "out of bounds": (
        [GOOD_ROWS[0], GOOD_ROWS[1], "12.5,2.0,3,tanh,32,True,0.25,,"],
        "import: row 3 (trials.csv line 4), parameter 'x1': 12.5 is outside [-5.0, 10.0]",
    ),
    "unknown category": (
        [GOOD_ROWS[0], "1.0,2.0,3,sigmoid,32,True,0.25,,"],
        "row 2 (trials.csv line 3), parameter 'act': got 'sigmoid', valid values are "
        "['relu', 'tanh']",
    ),
    "unknown numeric choice": (
        ["1.0,2.0,3,relu,48,True,0.25,,"],
        "row 1 (trials.csv line 2), parameter 'width': got '48', valid values are [16, 32, 64]",
    ),
    "not an integer": (
        ["1.0,2.0,2.5,relu,32,True,0.25,,"],
        "row 1 (trials.csv line 2), parameter 'n': 2.5 is not an integer",
    ),
    "text for a number": (
        ["1.0,abc,2,relu,32,True,0.25,,"],
        "row 1 (trials.csv line 2), parameter 'x2': 'abc' is not a number; expected a number "
        "in [0.0, 15.0]",
    ),
    "blank parameter": (
        ["1.0,,2,relu,32,True,0.25,,"],
        "row 1 (trials.csv line 2), parameter 'x2': no value (blank)",
    ),
    "non-finite value": (
        [GOOD_ROWS[0], "1.0,2.0,2,relu,32,True,inf,,"],
        "row 2 (trials.csv line 3), outcome 'y': inf is not a finite number",
    ),
    "nan value": (
        ["1.0,2.0,2,relu,32,True,nan,,"],
        "row 1 (trials.csv line 2), outcome 'y': nan is not a finite number",
    ),
    "blank objective": (
        ["1.0,2.0,2,relu,32,True,,,"],
        "row 1 (trials.csv line 2), outcome 'y': no value (blank)",
    ),
    "text outcome": (
        ["1.0,2.0,2,relu,32,True,0.3,,cheap"],
        "row 1 (trials.csv line 2), outcome 'cost': 'cheap' is not a number",
    ),
    "negative sem": (
        [GOOD_ROWS[0], "1.0,2.0,2,relu,32,True,0.25,-0.1,"],
        "row 2 (trials.csv line 3), column 'y_sem': -0.1 is negative; the standard error of "
        "'y' must be a number >= 0",
    ),
    "duplicate rows": (
        [GOOD_ROWS[0], GOOD_ROWS[1], "1.5,2.0,3,tanh,32,True,0.5,,"],
        "row 3 (trials.csv line 4) has the same parameters as row 1 (trials.csv line 2)",
    ),
    "parameter constraint": (
        ["8.0,14.0,3,tanh,32,True,0.5,,"],
        "row 1 (trials.csv line 2), constraint '1*x1 + 1*x2 <= 20': violated by {x1=8.0, x2=14.0}",
    ),
}


def test_a_sem_without_its_value_is_refused(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path
) -> None:
    opt = open_optimizer(mixed)
    path = write(tmp_path, "x1,x2,n,act,width,flag,y,cost,cost_sem", "1,2,2,relu,32,True,1,,0.1")
    with pytest.raises(InvalidImportError, match="column 'cost_sem': a standard error without"):
        opt.import_trials(path, extras=["cost"])
    assert opt.all_trials() == []


@pytest.mark.parametrize("case", list(REFUSED))
def test_one_bad_row_refuses_the_whole_import(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path, case: str
) -> None:
    opt = open_optimizer(mixed)
    opt.attach({"x1": 0.0, "x2": 0.0, "n": 1, "act": "relu", "width": 16, "flag": True}, 9.0)
    before = snapshot(opt)
    rows, message = REFUSED[case]
    path = write(tmp_path, HEADER, *rows)

    with pytest.raises(InvalidImportError) as info:
        opt.import_trials(path, extras=["cost"])

    assert message in str(info.value)
    assert snapshot(opt) == before


def test_missing_columns_are_named_before_any_row(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path
) -> None:
    opt = open_optimizer(mixed)
    # The row would be refused too (x1 out of bounds), but the columns come first.
    path = write(tmp_path, "x1,n,act,width,flag", "99,3,relu,32,True")
    with pytest.raises(InvalidImportError) as info:
        opt.import_trials(path)
    message = str(info.value)
    assert "import: trials.csv: missing column(s) ['x2', 'y']" in message
    assert "['x1', 'x2', 'n', 'act', 'width', 'flag']" in message and "['y']" in message
    assert "the fixed parameters ['k']" in message
    assert opt.all_trials() == []


def test_unknown_columns_are_refused_unless_named_as_extras(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path
) -> None:
    opt = open_optimizer(mixed)
    path = write(tmp_path, HEADER, *GOOD_ROWS)
    with pytest.raises(InvalidImportError, match=r"unknown column\(s\) \['cost'\]") as info:
        opt.import_trials(path)
    assert "extras=['cost']" in str(info.value)
    assert opt.all_trials() == []

    typo = write(tmp_path, "x1,x2,n,act,width,flag,y,y_se", "1,2,3,relu,32,True,0.5,0.1")
    with pytest.raises(InvalidImportError, match=r"unknown column\(s\) \['y_se'\]"):
        opt.import_trials(typo)
    assert opt.all_trials() == []


def test_a_fixed_parameter_must_keep_its_value(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path
) -> None:
    opt = open_optimizer(mixed)
    header = "x1,x2,n,act,width,flag,k,y"
    ok = write(tmp_path, header, "1,2,3,relu,32,True,3,0.5", "1,3,3,relu,32,True,,0.5")
    assert [t.params["k"] for t in opt.import_trials(ok)] == [3, 3]

    bad = write(tmp_path, header, "1,4,3,relu,32,True,4,0.5", name="bad.csv")
    with pytest.raises(InvalidImportError, match=r"row 1 \(bad.csv line 2\), parameter 'k': is "):
        opt.import_trials(bad)
    assert len(opt.all_trials()) == 2


def test_a_row_that_repeats_a_stored_trial_is_refused(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path
) -> None:
    opt = open_optimizer(mixed)
    path = write(tmp_path, HEADER, *GOOD_ROWS)
    first = opt.import_trials(path, extras=["cost"])
    before = snapshot(opt)

    with pytest.raises(InvalidImportError) as info:
        opt.import_trials(path, extras=["cost"])  # the same file again
    assert "row 1 (trials.csv line 2) has the same parameters as trial 0, already completed" in (
        str(info.value)
    )
    assert snapshot(opt) == before

    # Only the last row repeats a stored trial: none of the new ones is written either.
    mixed_rows = write(
        tmp_path, HEADER, "0.5,0.5,2,relu,16,True,1.0,,", GOOD_ROWS[2], name="more.csv"
    )
    with pytest.raises(InvalidImportError, match=r"row 2 \(more.csv line 3\).*trial 2"):
        opt.import_trials(mixed_rows, extras=["cost"])
    assert snapshot(opt) == before and len(first) == 3


def test_status_column_imports_completed_rows_and_counts_the_rest(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path
) -> None:
    opt = open_optimizer(mixed)
    path = write(
        tmp_path,
        "id,status,x1,x2,n,act,width,flag,y,generator,failure_reason",
        "0,completed,1,2,3,relu,32,True,0.5,sobol,",
        "1,failed,99,2,3,relu,32,True,,sobol,diverged",  # not checked: skipped
        "2,COMPLETED,1,3,3,relu,32,True,0.7,gp+qLogNEI,",
    )
    prepared = prepare_import(opt, path)
    assert prepared.skipped == 1 and len(prepared.rows) == 2
    trials = opt.import_trials(path)
    assert [t.metadata["import_row"] for t in trials] == [1, 3]
    assert {t.generator for t in trials} == {"import"}

    bad = write(tmp_path, "status,x1,x2,n,act,width,flag,y", "done,1,4,3,relu,32,True,0.5")
    with pytest.raises(InvalidImportError, match=r"row 1 \(trials.csv line 2\), column 'status'"):
        opt.import_trials(bad)
    assert len(opt.all_trials()) == 2


def test_export_of_one_store_imports_into_another(
    open_optimizer: OpenOptimizer, tmp_path: Path
) -> None:
    def evaluate(x: float, n: int, act: str, flag: bool) -> dict[str, float]:
        return {"loss": (x - 0.3) ** 2 + n + (act == "tanh"), "cost": 2.0 * n}

    exp = Experiment(
        name="roundtrip",
        parameters=[
            Float("x", 0.0, 1.0),
            Int("n", 1, 4),
            Choice("act", ["relu", "tanh"]),
            Choice("flag", [True, False]),
        ],
        objectives=[Objective("loss")],
        evaluate=evaluate,
        initial_trials=10,
    )
    source = open_optimizer(exp, storage=f"sqlite:///{tmp_path / 'source.db'}")
    trials = source.suggest(6)
    for t in trials[:4]:
        source.observe(t, evaluate(**t.params))
    source.fail(trials[4], "diverged")  # trials[5] stays pending
    path = tmp_path / "export.csv"
    source.trials().to_csv(path)  # with pandas' unnamed index column

    target = open_optimizer(exp, storage=f"sqlite:///{tmp_path / 'target.db'}")
    prepared = prepare_import(target, path)
    assert prepared.skipped == 2
    imported = target.import_trials(path)  # 'cost' is an outcome evaluate returns

    done = source.all_trials(TrialStatus.COMPLETED)
    assert [(t.params, t.values) for t in imported] == [(t.params, t.values) for t in done]
    assert [t.metadata["import_row"] for t in imported] == [1, 2, 3, 4]
    assert all(math.isclose((t.values or {})["cost"], 2.0 * t.params["n"]) for t in imported)
    with pytest.raises(InvalidImportError, match="already completed"):
        target.import_trials(path)
    assert len(target.all_trials()) == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("x1,x2,x1\n", "more than once"),
        ("x1,x2,n,act,width,flag,y\n1,2,3\n", "row 1 (trials.csv line 2) has 3 fields"),
    ],
)
def test_unreadable_tables_are_refused(
    open_optimizer: OpenOptimizer, mixed: Experiment, tmp_path: Path, text: str, message: str
) -> None:
    opt = open_optimizer(mixed)
    path = tmp_path / "trials.csv"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(InvalidImportError) as info:
        opt.import_trials(path)
    assert message in str(info.value)
    with pytest.raises(InvalidImportError, match="not found"):
        opt.import_trials(tmp_path / "missing.csv")
    assert opt.all_trials() == []
