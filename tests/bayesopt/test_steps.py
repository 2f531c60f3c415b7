"""Strategies as data: steps, their conditions, what each trial records, resuming."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bayesopt import Experiment, Float, Objective, Optimizer
from bayesopt.errors import InvalidExperimentError
from bayesopt.steps import BO, Sobol, TrustRegion, describe_strategy, design_size
from flows.cli import app

XY = [Float("x", 0.0, 1.0), Float("z", 0.0, 1.0)]


def _exp(**kw: object) -> Experiment:
    return Experiment(name="steps", parameters=XY, objectives=[Objective("y")], **kw)  # type: ignore[arg-type]


def _y(params: dict[str, float]) -> float:
    return (params["x"] - 0.3) ** 2 + (params["z"] - 0.6) ** 2


def test_the_default_is_a_design_then_one_global_model_at_every_dimension() -> None:
    assert _exp().strategy == (Sobol(5), BO())
    assert _exp(initial_trials=3).strategy == (Sobol(3), BO())
    for dim, size in [(1, 5), (2, 5), (4, 8), (5, 10), (6, 10), (20, 10), (30, 15), (60, 30)]:
        assert design_size(dim) == size, dim
        wide = Experiment(
            name="wide",
            parameters=[Float(f"x{i}", 0.0, 1.0) for i in range(dim)],
            objectives=[Objective("y")],
        )
        assert wide.strategy == (Sobol(size), BO()), dim
        assert wide.n_initial == size


def test_the_design_size_follows_the_sobol_step() -> None:
    exp = _exp(strategy=[Sobol(n=4), BO()], initial_trials=9)
    assert exp.n_initial == 4
    assert exp.settings()["strategy"] == "Sobol(n=4) -> BO()"
    assert "TrustRegion(after_stall=3)" in describe_strategy(
        _exp(strategy=[Sobol(2), BO(), TrustRegion(after_stall=3)]).strategy
    )


@pytest.mark.parametrize(
    ("strategy", "words"),
    [
        ([{"step": "bo", "surrogat": "gp"}], ["step 1 (bo)", "unknown options ['surrogat']"]),
        ([{"step": "turbo"}], ["step 1", "'turbo'", "valid steps are"]),
        ([BO(), Sobol(4)], ["Sobol is step 2", "first step"]),
        ([Sobol(4), BO(), TrustRegion()], ["step 3 (trust_region)", "never ends"]),
        ([Sobol(4), BO(surrogate="forest")], ["strategy BO: surrogate", "'forest'"]),
        ([Sobol(4), TrustRegion(length_init=2.0)], ["length_init=2.0", "length_max"]),
        ([Sobol(4), BO(after_stall=0)], ["after_stall=0", "integer >= 1"]),
        ([], ["strategy: got []"]),
        ("turbo", ["strategy: got 'turbo'", "'ax'"]),
        ([Sobol(-1)], ["Sobol: n=-1"]),
    ],
)
def test_bad_strategies_are_refused_naming_the_step(strategy: object, words: list[str]) -> None:
    with pytest.raises(InvalidExperimentError) as err:
        _exp(strategy=strategy)
    for word in words:
        assert word in str(err.value)


def test_a_trust_region_needs_one_objective() -> None:
    with pytest.raises(InvalidExperimentError, match="TrustRegion: the experiment has several"):
        Experiment(
            name="mo",
            parameters=XY,
            objectives=[Objective("a"), Objective("b")],
            strategy=[Sobol(4), TrustRegion()],
        )


def test_steps_as_data_and_as_objects_are_the_same() -> None:
    data = _exp(strategy=[{"step": "sobol", "n": 3}, "bo", {"step": "bo", "after_trials": 9}])
    assert data.strategy == (Sobol(3), BO(), BO(after_trials=9))


def test_each_trial_records_its_step_and_the_next_step_takes_over(tmp_path: Path) -> None:
    exp = _exp(strategy=[Sobol(3), BO(), BO(acquisition="qUCB", after_trials=6)], seed=0)
    opt = Optimizer(exp, storage=f"sqlite:///{tmp_path / 's.db'}")
    seen = []
    for _ in range(4):
        for t in opt.suggest(2):
            opt.observe(t, {"y": _y(t.params)})
            seen.append((t.metadata["step_index"], t.metadata["step"], t.generator))
    # the design ends inside the second batch and hands its second point to BO
    assert seen[:3] == [(0, "sobol", "sobol")] * 3
    assert seen[3:6] == [(1, "bo", "gp+qLogNEI")] * 3
    assert seen[6:] == [(2, "bo", "gp+qUCB")] * 2
    assert opt.trials()["step"].tolist() == [s[1] for s in seen]


def test_a_stall_starts_the_next_step_and_a_resumed_run_stays_in_it(tmp_path: Path) -> None:
    exp = _exp(strategy=[Sobol(3), BO(), BO(acquisition="qUCB", after_stall=2)], seed=0)
    url = f"sqlite:///{tmp_path / 's.db'}"
    opt = Optimizer(exp, storage=url)
    for _ in range(3):  # the design: 1.0, then no improvement on a flat function
        (t,) = opt.suggest(1)
        opt.observe(t, {"y": 1.0})
    (t,) = opt.suggest(1)
    assert t.metadata["step_index"] == 1  # the design's stall is not charged to BO
    opt.observe(t, {"y": 1.0})
    (t,) = opt.suggest(1)
    assert t.metadata["step_index"] == 1
    opt.observe(t, {"y": 1.0})
    (t,) = opt.suggest(1)
    assert t.metadata["step_index"] == 2 and t.generator == "gp+qUCB"
    opt.observe(t, {"y": 0.0})  # an improvement does not send the run back
    again = Optimizer(exp, storage=url)
    (t,) = again.suggest(1)
    assert t.metadata["step_index"] == 2

    out = CliRunner().invoke(app, ["status", "--storage", url, _write(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "3 bo" in out.output and "1 sobol" in out.output and "step" in out.output


def _write(tmp_path: Path) -> str:
    path = tmp_path / "steps_exp.py"
    path.write_text(
        "from bayesopt import Experiment, Float, Objective\n"
        "from bayesopt.steps import BO, Sobol\n"
        "experiment = Experiment(name='steps', parameters=[Float('x', 0.0, 1.0), "
        "Float('z', 0.0, 1.0)], objectives=[Objective('y')], "
        "strategy=[Sobol(3), BO(), BO(acquisition='qUCB', after_stall=2)], seed=0)\n"
    )
    return str(path)


def test_a_trust_region_keeps_its_state_in_the_store(tmp_path: Path) -> None:
    from bayesopt.trust_region import TrustRegionState, update

    exp = Experiment(
        name="region",
        parameters=[Float(f"x{i}", 0.0, 1.0) for i in range(3)],
        objectives=[Objective("y")],
        strategy=[Sobol(4), TrustRegion(failure_tolerance=1)],
        seed=1,
    )
    url = f"sqlite:///{tmp_path / 's.db'}"

    def f(p: dict[str, float]) -> float:
        return sum((p[f"x{i}"] - 0.2) ** 2 for i in range(3))

    opt = Optimizer(exp, storage=url)
    for _ in range(6):
        (t,) = opt.suggest(1)
        opt.observe(t, {"y": f(t.params)})
    trials = opt.all_trials()
    states = [t.metadata["trust_region"] for t in trials[4:]]
    first = TrustRegionState.from_dict(states[0])
    best = min(trials[:4], key=lambda t: t.values["y"])  # type: ignore[index]
    assert first.length == 0.8 and first.best_value == -best.values["y"]  # type: ignore[index]
    assert list(first.center or ()) == pytest.approx(exp.space.encode(best.params).tolist())
    # Each decision's state is the one before updated with the trial completed since.
    for before, after, done in zip(states, states[1:], trials[4:], strict=False):
        expected = update(
            TrustRegionState.from_dict(before),
            [-done.values["y"]],  # type: ignore[index]
            [exp.space.encode(done.params).tolist()],
        )
        assert TrustRegionState.from_dict(after) == expected
    # A new process reads the state from the store and goes on from it.
    again = Optimizer(exp, storage=url)
    (t,) = again.suggest(1)
    expected = update(
        TrustRegionState.from_dict(states[-1]),
        [-trials[-1].values["y"]],  # type: ignore[index]
        [exp.space.encode(trials[-1].params).tolist()],
    )
    assert TrustRegionState.from_dict(t.metadata["trust_region"]) == expected
    assert t.metadata["step"] == "trust_region"


def test_strategy_ax_is_refused_at_build_time_where_ax_cannot_follow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mixture = [Float("a", 0.0, 1.0), Float("b", 0.0, 1.0), Float("c", 0.0, 1.0)]
    with pytest.raises(InvalidExperimentError, match="c == 1' is an equality"):
        Experiment(
            name="mix",
            parameters=mixture,
            objectives=[Objective("y")],
            constraints=["a + b + c == 1"],
            strategy="ax",
        )
    import bayesopt.ax_strategy as ax_strategy

    # as on a machine without the extra: the message says what to install
    monkeypatch.setattr(ax_strategy, "ax_available", lambda: False)
    with pytest.raises(InvalidExperimentError) as err:
        _exp(strategy="ax")
    assert "strategy: 'ax' needs the ax-platform package" in str(err.value)
    assert "pip install -e '.[ax]'" in str(err.value)


def test_learning_goals_keep_one_global_model() -> None:
    wide = [Float(f"x{i}", 0.0, 1.0) for i in range(30)]
    learn = Experiment(name="map", parameters=wide, objectives=[Objective("y")], goal="learn")
    assert learn.strategy == (Sobol(15), BO())
    with pytest.raises(InvalidExperimentError, match="TrustRegion: goal='learn'"):
        _exp(goal="learn", strategy=[Sobol(3), TrustRegion()])
    with pytest.raises(InvalidExperimentError, match="strategy: 'ax' optimizes"):
        _exp(goal="learn", strategy="ax")
