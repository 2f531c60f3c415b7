"""MLflow tracking: one MLflow experiment per experiment, one run per flow run.

Metrics are buffered and sent with ``log_batch`` once per batch of trials, so a
remote tracking server sees a few calls per batch, not one per value. Each run ends
with its trials table, its convergence plot and its decision report
(:mod:`flows.report`) as artifacts.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from bayesopt import BayesoptError, Experiment, Optimizer, Trial, TrialStatus
from bayesopt.analysis.schedule import KEYS as ANALYSIS_KEYS
from bayesopt.fidelity import at_target
from bayesopt.pareto import hypervolume, reference_point, signed_objectives
from bayesopt.stopping import Stop
from bayesopt.storage import mask_url
from flows.plots import (
    calibration_plot,
    convergence_plot,
    hypervolume_plot,
    pareto_plot,
    predicted_vs_observed_plot,
)
from flows.report import REPORT_NAME, write_report
from flows.surrogate_model import ARTIFACT_PATH, save_surrogate

_MAX_BATCH = 900  # below MLflow's limit of 1000 metrics per log_batch call

#: MLflow 3 opens an experiment in the view its kind names; without the tag it guesses
#: from the runs and shows a run like this one in the GenAI view. This kind opens the
#: model-training view, where a run's metric charts are.
KIND_TAG = "mlflow.experimentKind"
KIND = "custom_model_development"
#: The same for the UI of MLflow 3.17 and later, which reads it from the page's address.
UI_WORKFLOW = "machine_learning"

#: Numeric trial metadata that is bookkeeping, not a measurement of the decision.
_NOT_METRICS = frozenset({"sobol_index", "n_pending"})


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class RunTracker:
    """Logs one optimization run to MLflow.

    Args:
        tracking_uri: Where MLflow keeps runs (``sqlite:///...``, ``http://127.0.0.1:5000``).
        experiment: The experiment being optimized; its name names the MLflow experiment.
    """

    def __init__(self, tracking_uri: str, experiment: Experiment) -> None:
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.experiment = experiment
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self._metrics: list[Metric] = []
        self._best: float | None = None
        self._done: list[Trial] = []  # feasible completed trials, for the hypervolume

    @property
    def display_uri(self) -> str:
        return mask_url(self.tracking_uri) if "://" in self.tracking_uri else self.tracking_uri

    def _experiment_id(self) -> str:
        name = self.experiment.name
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            if KIND_TAG not in found.tags:  # made by an earlier version, or by hand
                self.client.set_experiment_tag(found.experiment_id, KIND_TAG, KIND)
            return str(found.experiment_id)
        artifact_location = None
        if self.tracking_uri.startswith("sqlite:"):
            # Keep artifacts beside the tracking database rather than in the cwd.
            db = Path(self.tracking_uri.split(":///", 1)[-1])
            artifact_location = (db.parent / "mlartifacts" / name).resolve().as_uri()
        try:
            return str(
                self.client.create_experiment(
                    name, artifact_location=artifact_location, tags={KIND_TAG: KIND}
                )
            )
        except Exception:
            found = self.client.get_experiment_by_name(name)  # created by a concurrent run
            if found is None:
                raise
            return str(found.experiment_id)

    def start(self, run_name: str, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        if self.tracking_uri.startswith("sqlite:///"):
            Path(self.tracking_uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        self.experiment_id = self._experiment_id()
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags=dict(tags))
        self.run_id = run.info.run_id
        self.client.log_batch(
            self.run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()]
        )
        return self.run_id

    def seed_best(self, trials: list[Trial]) -> None:
        """Start the best-so-far from trials already in the store (a resumed run)."""
        for t in trials:
            self._update_best(t)

    def _update_best(self, trial: Trial) -> float | None:
        """The best feasible value so far; with several objectives, the hypervolume of the
        feasible front so far (reference point: the thresholds, else inferred from it)."""
        exp = self.experiment
        if trial.status != TrialStatus.COMPLETED or not trial.values:
            return self._best
        if not exp.is_feasible(trial.values) or not at_target(exp.space, trial.params):
            return self._best  # infeasible, or below the target fidelity
        if exp.is_multi_objective:
            self._done.append(trial)
            Y = signed_objectives(exp, self._done)
            self._best = hypervolume(Y, reference_point(exp, Y))
            return self._best
        obj = exp.objective
        v = trial.values[obj.name]
        if self._best is None or (v < self._best if obj.minimize else v > self._best):
            self._best = v
        return self._best

    @property
    def _best_name(self) -> str:
        if self.experiment.is_multi_objective:
            return "hypervolume"
        return f"best_{self.experiment.objective.name}"

    def record(self, trial: Trial) -> None:
        """Buffer the metrics of a finished trial, at ``step`` = its id."""
        now = int(time.time() * 1000)
        step = trial.id
        if trial.status == TrialStatus.COMPLETED and trial.values:
            for key, value in trial.values.items():
                self._metrics.append(Metric(key, float(value), now, step))
            for key, value in (trial.sems or {}).items():
                self._metrics.append(Metric(f"{key}_sem", float(value), now, step))
            if self.experiment.outcome_constraints:
                ok = self.experiment.is_feasible(trial.values)
                self._metrics.append(Metric("feasible", float(ok), now, step))
        else:
            self._metrics.append(Metric("failed", 1.0, now, step))
        best = self._update_best(trial)
        if best is not None:
            self._metrics.append(Metric(self._best_name, best, now, step))
        for key, value in trial.metadata.items():
            # The decision's record: fit and acquisition seconds, held-out scores
            # (cv_rmse, cv_r2, cv_nlpd, cv_picp, cv_mpiw), MCMC diagnostics, auto's NLPDs;
            # with a learning goal integrated_variance and iv_rel, or misclassified and
            # level_share; with a test set the deciding model's holdout_rmse, holdout_nlpd
            # and holdout_picp (computed once the decision was made; see Optimizer.holdout).
            if key not in _NOT_METRICS and _is_number(value):
                self._metrics.append(Metric(key, float(value), now, step))
        regime = trial.metadata.get("regime")
        if isinstance(regime, dict):  # the regimes of the run when this trial was decided
            for key, value in regime.items():
                if key.startswith("p_") and _is_number(value):
                    self._metrics.append(Metric(f"regime.{key}", float(value), now, step))
        for (
            key
        ) in ANALYSIS_KEYS.values():  # a monitored analysis that ran when this trial completed
            found = trial.metadata.get(key)
            for name, value in found.items() if isinstance(found, dict) else ():
                if _is_number(value):
                    self._metrics.append(Metric(f"{key}.{name}", float(value), now, step))
        for name, value in (trial.metadata.get("fixed") or {}).items():  # the context
            if _is_number(value):
                self._metrics.append(Metric(f"context.{name}", float(value), now, step))
        for key in ("fallback", "auto_reason", "cv_error"):
            if key in trial.metadata:
                self.client.set_tag(
                    self._run(), f"{key}.trial_{trial.id}", str(trial.metadata[key])[:5000]
                )

    def record_stop(self, stop: Stop) -> None:
        """Log why the run stopped before its budget: tags with the rule and the reason,
        and the number of finished trials as a metric."""
        run_id = self._run()
        self.client.log_batch(
            run_id,
            metrics=[
                Metric("stopped_at_trials", float(stop.n_finished), int(time.time() * 1000), 0)
            ],
            tags=[RunTag("stop.rule", stop.rule), RunTag("stop.reason", stop.reason[:5000])],
        )

    def flush(self) -> None:
        while self._metrics:
            chunk, self._metrics = self._metrics[:_MAX_BATCH], self._metrics[_MAX_BATCH:]
            self.client.log_batch(self._run(), metrics=chunk)

    def finish(self, optimizer: Optimizer, status: str = "FINISHED") -> None:
        """Flush, log the trials table and the convergence plot, and close the run.

        A finished run also logs its decision report (:meth:`_log_report`) and its final
        fitted surrogate (:meth:`_log_surrogate`).
        """
        self.flush()
        run_id = self._run()
        df = optimizer.trials()
        exp = self.experiment
        obj = exp.objective
        with tempfile.TemporaryDirectory() as tmp:
            csv = Path(tmp) / "trials.csv"
            df.to_csv(csv, index=False)
            self.client.log_artifact(run_id, str(csv))
            if exp.is_multi_objective:
                progress = optimizer.progress()
                png = hypervolume_plot(progress.best, Path(tmp) / "convergence.png")
                self.client.log_artifact(run_id, str(png))
                ids = [t.id for t in _front(optimizer)]
                names = [o.name for o in exp.objectives]
                png = pareto_plot(df, names, ids, exp, Path(tmp) / "pareto_front.png")
                self.client.log_artifact(run_id, str(png))
            else:
                png = convergence_plot(df, obj.name, obj.minimize, Path(tmp) / "convergence.png")
                self.client.log_artifact(run_id, str(png))
            # The report's analyses and the final fit take seconds: an interrupted run
            # stops at once, and the run that resumes it logs them.
            if status == "FINISHED":
                self._log_report(optimizer, run_id, Path(tmp))
        if status == "FINISHED":
            self._log_surrogate(optimizer)
        summary: list[RunTag] = [RunTag("n_trials", str(len(df)))]
        if exp.is_multi_objective:
            front = _front(optimizer)
            summary.append(RunTag("pareto_trials", ", ".join(str(t.id) for t in front)))
        else:
            try:
                best = optimizer.best()
                summary += [
                    RunTag("best_trial", str(best.id)),
                    RunTag("best_params", str(best.params)),
                ]
            except BayesoptError:
                pass
        self.client.log_batch(run_id, tags=summary)
        self.client.set_terminated(run_id, status=status)

    def _log_report(self, optimizer: Optimizer, run_id: str, tmp: Path) -> None:
        """Log the decision report (the page a reviewer reads in the UI's artifact
        viewer) and the analyses' plots; a report that fails is noted, never fatal."""
        try:
            figures = tmp / "figures"
            page = write_report(optimizer, tmp / REPORT_NAME, run_id=run_id, figures=figures)
            self.client.log_artifact(run_id, str(page))
            for name in ("regimes.png", "basins.png"):
                if (figures / name).is_file():
                    self.client.log_artifact(run_id, str(figures / name))
        except Exception as exc:
            self.client.set_tag(run_id, "report.error", f"{type(exc).__name__}: {exc}"[:5000])

    def _log_surrogate(self, optimizer: Optimizer) -> None:
        """Log the final fitted surrogate: its scores, its plots and the model itself.

        A run with too few completed trials for a model logs nothing here; a
        surrogate that cannot be fitted or saved is noted in a tag, never fatal.
        """
        run_id = self._run()
        if len(optimizer.all_trials(TrialStatus.COMPLETED)) < 2:
            return
        obj = self.experiment.objective.name
        try:
            fitted = optimizer.fitted()
        except Exception as exc:
            self.client.set_tag(run_id, "surrogate.error", f"{type(exc).__name__}: {exc}"[:5000])
            return
        now = int(time.time() * 1000)
        step = fitted.n_train
        metrics = [
            Metric(f"final_{k}", float(v), now, step)
            for k, v in fitted.info.items()
            if k not in _NOT_METRICS and _is_number(v)
        ]
        if optimizer.test_set is not None:  # the final model on the held-out test set
            try:
                scores = optimizer.holdout_scores()
                metrics += [
                    Metric(f"final_holdout_{k}", scores[k], now, step)
                    for k in ("rmse", "nlpd", "picp")
                ]
            except Exception as exc:
                self.client.set_tag(run_id, "holdout.error", f"{type(exc).__name__}: {exc}"[:5000])
        tags = [RunTag("surrogate.final", fitted.surrogate)]
        if "auto_reason" in fitted.info:
            tags.append(RunTag("surrogate.auto_reason", str(fitted.info["auto_reason"])[:5000]))
        self.client.log_batch(run_id, metrics=metrics, tags=tags)
        with tempfile.TemporaryDirectory() as tmp:
            if fitted.held_out is not None:
                self.client.log_artifact(
                    run_id,
                    str(calibration_plot(fitted.held_out, obj, Path(tmp) / "calibration.png")),
                )
                self.client.log_artifact(
                    run_id,
                    str(
                        predicted_vs_observed_plot(
                            fitted.held_out, obj, Path(tmp) / "predicted_vs_observed.png"
                        )
                    ),
                )
            try:
                model_dir = save_surrogate(fitted, Path(tmp) / "model" / ARTIFACT_PATH)
                self.client.log_artifacts(run_id, str(model_dir), ARTIFACT_PATH)
            except Exception as exc:  # e.g. a user model that cannot be pickled
                self.client.set_tag(
                    run_id, "surrogate.save_error", f"{type(exc).__name__}: {exc}"[:5000]
                )

    def _run(self) -> str:
        if self.run_id is None:
            raise RuntimeError("tracking: start() was not called")
        return self.run_id

    def run_path(self) -> str:
        """The run's page in the MLflow UI, relative to its address, in the model-training
        view (MLflow 3's UI picks the view from ``workflowType``, else the GenAI one)."""
        return f"/#/experiments/{self.experiment_id}/runs/{self._run()}?workflowType={UI_WORKFLOW}"

    def ui_hint(self) -> str:
        if self.tracking_uri.startswith(("http://", "https://")):
            return f"open {self.display_uri.rstrip('/')}{self.run_path()} in a browser"
        return f"run `bayesopt ui` and open http://127.0.0.1:5000{self.run_path()}"


def _front(optimizer: Optimizer) -> list[Trial]:
    """The feasible Pareto front, or none while no trial is feasible."""
    try:
        return optimizer.pareto()
    except BayesoptError:
        return []
