"""The trial store on a real SQLite file: what is written survives, transitions are guarded."""

from __future__ import annotations

from datetime import UTC

import pytest

from bayesopt import (
    Choice,
    Experiment,
    Float,
    Int,
    Objective,
    StorageError,
    TrialStateError,
    TrialStatus,
)
from bayesopt.storage import Store, mask_url, worker_id

DEFINITION = {"space": {"parameters": {"x": {"type": "float"}}}, "objectives": [{"name": "y"}]}


@pytest.fixture
def store(db_url: str):
    s = Store(db_url)
    yield s
    s.close()


def test_every_trial_survives_close_and_reopen(db_url: str) -> None:
    store = Store(db_url)
    exp_id = store.experiment("e", DEFINITION, seed=11).id
    _pending, running, completed, failed, abandoned = store.add_trials(
        exp_id,
        [
            {
                "params": {"x": 0.1, "c": "a", "k": 3, "b": True},
                "generator": "sobol",
                "metadata": {"sobol_index": 0},
            },
            {
                "params": {"x": 0.2, "c": "b", "k": 4, "b": False},
                "generator": "gp+qLogNEI",
                "metadata": {"acq_value": -1.5, "nested": {"n_train": 4, "ok": [1, 2]}},
            },
            {"params": {"x": 0.3, "c": "a", "k": 5, "b": True}},
            {"params": {"x": 0.4, "c": "b", "k": 6, "b": False}},
            {"params": {"x": 0.5, "c": "a", "k": 7, "b": True}},
        ],
    )
    store.transition(
        exp_id,
        running.id,
        allowed=[TrialStatus.PENDING],
        status=TrialStatus.RUNNING,
        worker="host-a:123",
    )
    store.transition(
        exp_id,
        completed.id,
        allowed=[TrialStatus.PENDING],
        status=TrialStatus.COMPLETED,
        values={"y": 0.25, "aux": -1.0},
        metadata={"note": "by hand"},
    )
    store.transition(
        exp_id,
        failed.id,
        allowed=[TrialStatus.PENDING],
        status=TrialStatus.FAILED,
        failure_reason="ValueError: boom",
    )
    store.transition(
        exp_id,
        abandoned.id,
        allowed=[TrialStatus.PENDING],
        status=TrialStatus.ABANDONED,
        failure_reason="worker died",
    )
    before = store.trials(exp_id)
    store.close()

    reopened = Store(db_url)
    try:
        record = reopened.experiment("e", DEFINITION, seed=999)
        after = reopened.trials(record.id)
    finally:
        reopened.close()

    assert record.id == exp_id
    assert record.seed == 11  # the stored seed, not the one offered on reopening
    assert after == before
    by_id = {t.id: t for t in after}
    assert [t.status for t in after] == [
        TrialStatus.PENDING,
        TrialStatus.RUNNING,
        TrialStatus.COMPLETED,
        TrialStatus.FAILED,
        TrialStatus.ABANDONED,
    ]
    assert by_id[0].params == {"x": 0.1, "c": "a", "k": 3, "b": True}
    assert [type(v) for v in by_id[0].params.values()] == [float, str, int, bool]
    assert by_id[0].generator == "sobol"
    assert by_id[0].metadata == {"sobol_index": 0}
    assert by_id[1].metadata == {"acq_value": -1.5, "nested": {"n_train": 4, "ok": [1, 2]}}
    assert by_id[1].worker == "host-a:123"
    assert by_id[1].started_at is not None and by_id[1].finished_at is None
    assert by_id[2].values == {"y": 0.25, "aux": -1.0}
    assert by_id[2].metadata == {"note": "by hand"}
    assert by_id[2].generator == "manual"
    assert by_id[3].failure_reason == "ValueError: boom"
    assert by_id[3].values is None
    assert by_id[4].failure_reason == "worker died"
    for t in after:
        assert t.created_at is not None and t.created_at.tzinfo is not None
        assert t.created_at.utcoffset() == UTC.utcoffset(None)
        assert (t.finished_at is not None) == t.status.is_finished


def test_reopening_with_another_space_raises(db_url: str) -> None:
    first = Experiment(name="e", parameters=[Float("x", 0, 1)], objectives=[Objective("y")])
    creator = Store(db_url)
    creator.experiment(first.name, first.definition(), 0)
    creator.close()
    changed = [
        first.replace(parameters=[Float("x", 0, 2)]),
        first.replace(parameters=[Float("x", 0, 1), Int("k", 0, 3)]),
        first.replace(parameters=[Choice("x", ["a", "b"])]),
        first.replace(objectives=[Objective("y", minimize=False)]),
        first.replace(objectives=[Objective("z")]),
    ]
    store = Store(db_url)
    try:
        for exp in changed:
            with pytest.raises(StorageError) as info:
                store.experiment(exp.name, exp.definition(), 0)
            assert "experiment 'e'" in str(info.value)
            assert "another experiment name" in str(info.value)
        # Settings that are not part of the definition may change.
        same = first.replace(budget=99, batch_size=4, acquisition="qUCB")
        assert store.experiment(same.name, same.definition(), 5).seed == 0
    finally:
        store.close()


def test_space_error_names_the_field(store: Store) -> None:
    store.experiment("e", DEFINITION, 0)
    other = {**DEFINITION, "objectives": [{"name": "z"}]}
    with pytest.raises(StorageError, match="was created with objectives"):
        store.experiment("e", other, 0)


def test_experiments_in_one_file_are_independent(store: Store) -> None:
    a = store.experiment("a", DEFINITION, 0).id
    b = store.experiment("b", DEFINITION, 0).id
    assert a != b
    store.add_trials(a, [{"params": {"x": 0.1}}, {"params": {"x": 0.2}}])
    (tb,) = store.add_trials(b, [{"params": {"x": 0.9}}])
    assert tb.id == 0
    assert [t.params["x"] for t in store.trials(a)] == [0.1, 0.2]
    assert [t.params["x"] for t in store.trials(b)] == [0.9]


def test_trial_numbers_are_consecutive_across_calls_and_reopening(db_url: str) -> None:
    store = Store(db_url)
    exp_id = store.experiment("e", DEFINITION, 0).id
    ids = [t.id for t in store.add_trials(exp_id, [{"params": {"x": i / 10}} for i in range(3)])]
    ids += [t.id for t in store.add_trials(exp_id, [{"params": {"x": 0.5}}])]
    store.transition(exp_id, 1, allowed=[TrialStatus.PENDING], status=TrialStatus.ABANDONED)
    assert store.add_trials(exp_id, []) == []
    store.close()
    store = Store(db_url)
    try:
        ids += [t.id for t in store.add_trials(exp_id, [{"params": {"x": 0.6}}] * 2)]
        assert ids == [0, 1, 2, 3, 4, 5]
        assert [t.id for t in store.trials(exp_id)] == ids
    finally:
        store.close()


def test_add_trials_with_a_finished_status(store: Store) -> None:
    exp_id = store.experiment("e", DEFINITION, 0).id
    (t,) = store.add_trials(
        exp_id, [{"params": {"x": 0.1}, "values": {"y": 1.0}}], status=TrialStatus.COMPLETED
    )
    assert t.status == TrialStatus.COMPLETED
    assert t.values == {"y": 1.0}
    assert t.started_at is not None and t.finished_at is not None
    assert store.trial(exp_id, t.id) == t


# -------------------------------------------------------------- transitions
def test_lifecycle_pending_running_completed(store: Store) -> None:
    exp_id = store.experiment("e", DEFINITION, 0).id
    (t,) = store.add_trials(exp_id, [{"params": {"x": 0.1}}])
    assert t.status == TrialStatus.PENDING and t.started_at is None
    running = store.transition(
        exp_id, t.id, allowed=[TrialStatus.PENDING], status=TrialStatus.RUNNING, worker=worker_id()
    )
    assert running.status == TrialStatus.RUNNING
    assert running.worker == worker_id()
    assert running.started_at is not None
    done = store.transition(
        exp_id, t.id, allowed=[TrialStatus.RUNNING], status=TrialStatus.COMPLETED, values={"y": 2.0}
    )
    assert done.values == {"y": 2.0}
    assert done.worker == worker_id()
    assert store.trial(exp_id, t.id) == done


def test_transition_of_an_unknown_trial_raises(store: Store) -> None:
    exp_id = store.experiment("e", DEFINITION, 0).id
    store.add_trials(exp_id, [{"params": {"x": 0.1}}])
    with pytest.raises(TrialStateError, match="trial 7: no such trial"):
        store.transition(
            exp_id,
            7,
            allowed=[TrialStatus.PENDING],
            status=TrialStatus.COMPLETED,
            values={"y": 1.0},
        )
    with pytest.raises(TrialStateError, match="trial 7: no such trial"):
        store.trial(exp_id, 7)
    assert [t.id for t in store.trials(exp_id)] == [0]


@pytest.mark.parametrize(
    "finish",
    [
        {"status": TrialStatus.COMPLETED, "values": {"y": 1.0}},
        {"status": TrialStatus.FAILED, "failure_reason": "boom"},
        {"status": TrialStatus.ABANDONED, "failure_reason": "gone"},
    ],
    ids=["completed", "failed", "abandoned"],
)
def test_a_finished_trial_cannot_change(store: Store, finish: dict) -> None:
    exp_id = store.experiment("e", DEFINITION, 0).id
    (t,) = store.add_trials(exp_id, [{"params": {"x": 0.1}, "metadata": {"a": 1}}])
    active = [TrialStatus.PENDING, TrialStatus.RUNNING]
    store.transition(exp_id, t.id, allowed=active, **finish)
    stored = store.trial(exp_id, t.id)
    attempts = [
        {"status": TrialStatus.COMPLETED, "values": {"y": 99.0}, "metadata": {"a": 2}},
        {"status": TrialStatus.FAILED, "failure_reason": "late"},
        {"status": TrialStatus.RUNNING, "worker": "other:1"},
    ]
    for attempt in attempts:
        with pytest.raises(TrialStateError) as info:
            store.transition(exp_id, t.id, allowed=active, **attempt)
        assert f"is {finish['status'].value}" in str(info.value)
        assert "nothing was changed" in str(info.value)
        assert store.trial(exp_id, t.id) == stored


def test_metadata_is_merged_on_transition(store: Store) -> None:
    exp_id = store.experiment("e", DEFINITION, 0).id
    (t,) = store.add_trials(exp_id, [{"params": {"x": 0.1}, "metadata": {"a": 1, "b": 2}}])
    done = store.transition(
        exp_id,
        t.id,
        allowed=[TrialStatus.PENDING],
        status=TrialStatus.COMPLETED,
        values={"y": 0.0},
        metadata={"b": 3, "c": 4},
    )
    assert done.metadata == {"a": 1, "b": 3, "c": 4}
    assert store.trial(exp_id, t.id).metadata == {"a": 1, "b": 3, "c": 4}


def test_trials_filters_by_status(store: Store) -> None:
    exp_id = store.experiment("e", DEFINITION, 0).id
    store.add_trials(exp_id, [{"params": {"x": i / 10}} for i in range(4)])
    store.transition(exp_id, 2, allowed=[TrialStatus.PENDING], status=TrialStatus.FAILED)
    assert [t.id for t in store.trials(exp_id, [TrialStatus.FAILED])] == [2]
    assert [t.id for t in store.trials(exp_id, [TrialStatus.PENDING])] == [0, 1, 3]


# --------------------------------------------------------------------- URLs
def test_in_memory_store_works() -> None:
    store = Store("sqlite://")
    try:
        exp_id = store.experiment("e", DEFINITION, 0).id
        store.add_trials(exp_id, [{"params": {"x": 0.1}}])
        assert len(store.trials(exp_id)) == 1
    finally:
        store.close()


def test_a_missing_directory_is_created(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'runs' / 'deep' / 'trials.db'}"
    store = Store(url)
    store.experiment("e", DEFINITION, 0)
    store.close()
    assert (tmp_path / "runs" / "deep" / "trials.db").exists()


def test_a_bad_url_raises_storage_error() -> None:
    with pytest.raises(StorageError, match="not a SQLAlchemy URL"):
        Store("not a url")


def test_passwords_are_masked() -> None:
    assert mask_url("postgresql://user:secret@host/db") == "postgresql://user:***@host/db"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"
