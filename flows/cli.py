"""The ``bayesopt`` command line: init, run, status, best, suggest, observe, ui, docs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

# The library (PyTorch, BoTorch) loads when a command needs it, not for --help or init.
import bayesopt as bo
from bayesopt.errors import BayesoptError
from flows.scaffold import TEMPLATES

if TYPE_CHECKING:
    from bayesopt import Experiment, Optimizer, Trial

app = typer.Typer(
    help="Bayesian optimization experiments: run them, inspect them, ask and tell by hand.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

ExperimentArg = Annotated[Path, typer.Argument(help="Python file defining `experiment`.")]
StorageOpt = Annotated[
    str | None, typer.Option("--storage", help="SQLAlchemy URL of the trial store.")
]
AsyncOpt = Annotated[
    bool,
    typer.Option(
        "--async", help="Keep batch-size evaluations in flight; start a trial as each one ends."
    ),
]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            console.print(f"bayesopt-workflows {version('bayesopt-workflows')}", highlight=False)
        except PackageNotFoundError:  # run from a source tree that is not installed
            console.print("bayesopt-workflows (not installed)", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Bayesian optimization experiments: run them, inspect them, ask and tell by hand."""


def _load(path: Path) -> Experiment:
    from flows.loading import load_experiment

    return load_experiment(path)


def _optimizer(path: Path, storage: str | None) -> tuple[Experiment, Optimizer]:
    from flows.loading import default_storage

    exp = _load(path)
    return exp, bo.Optimizer(exp, storage=default_storage(exp, storage))


def _mask_url(url: str) -> str:
    from bayesopt.storage import mask_url

    return mask_url(url)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else str(value)


def _scores(meta: dict[str, Any]) -> str:
    """The held-out scores of the fit that made a decision, in a few characters."""
    if "cv_nlpd" not in meta:
        return ""
    return f"held-out NLPD {meta['cv_nlpd']:.3g}, PICP {meta.get('cv_picp', float('nan')):.2f}"


def _outcome(t: Trial, name: str) -> str:
    """A value, with its standard error when one was measured."""
    value = (t.values or {}).get(name)
    sem = (t.sems or {}).get(name)
    return f"{_fmt(value)} ± {_fmt(sem)}" if sem is not None else _fmt(value)


def _print_stop(stop: dict[str, Any]) -> None:
    """Say which stopping rule ended the run early, and why (a ``Stop.as_dict()``)."""
    console.print(
        f"stopped early ({stop['rule']}) after {stop['n_finished']} finished trials: "
        f"{stop['reason']}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


def _trial_table(exp: Experiment, trials: list[Trial], title: str) -> Table:
    table = Table(title=title)
    modelled = list(exp.modelled_outcomes)
    extra = sorted({k for t in trials for k in (t.values or {})} - set(modelled))
    outcomes = modelled + extra
    feasibility = bool(exp.outcome_constraints)
    cols = ["id", "status", *exp.space.names, *outcomes, *(["feasible"] if feasibility else [])]
    # The default design-then-BO strategy says as much as the generator does: its step
    # column is shown only for strategies with more to tell.
    steps = exp.strategy
    show_step = not (len(steps) == 2 and steps[0].name == "sobol" and steps[1] == bo.BO())
    for col in [*cols, *(["step"] if show_step else []), "decided by", "note"]:
        table.add_column(col, justify="right" if col == "id" else "left")
    for t in trials:
        note = t.failure_reason or t.metadata.get("fallback") or _scores(t.metadata)
        if "fixed" in t.metadata and not t.failure_reason:
            note = f"context {t.metadata['fixed']}; {note}".rstrip("; ")
        ok = "" if not t.values else ("yes" if exp.is_feasible(t.values) else "no")
        table.add_row(
            str(t.id),
            t.status.value,
            *[_fmt(t.params.get(n)) for n in exp.space.names],
            *[_outcome(t, k) for k in outcomes],
            *([ok] if feasibility else []),
            *([t.step_label] if show_step else []),
            t.generator,
            str(note)[:60],
        )
    return table


def _front_title(exp: Experiment, opt: Optimizer, front: list[Trial]) -> str:
    names = ", ".join(f"{o.name} ({'min' if o.minimize else 'max'})" for o in exp.objectives)
    return (
        f"{exp.name}: Pareto front of {len(front)} trial(s) over {names}, "
        f"hypervolume {opt.hypervolume():.6g}"
    )


def _watch(stop: threading.Event, exp: Experiment, storage: str, progress: Progress) -> None:
    """Show trial count and best value from the store while the flow runs."""
    bar = progress.add_task("trials", total=exp.budget, best="-")
    opt: Optimizer | None = None
    done = False
    while not done:
        done = stop.wait(0.5)  # one last refresh after the flow has ended
        try:
            opt = opt or bo.Optimizer(exp, storage=storage)
            finished = opt.n_finished
            try:
                if exp.is_multi_objective:
                    best = f"hypervolume {_fmt(opt.hypervolume())}"
                else:
                    best = _fmt(opt.best().values[exp.objective.name])  # type: ignore[index]
            except BayesoptError:
                best = "-"
            progress.update(bar, completed=min(finished, exp.budget), best=best)
        except Exception:  # the store may not exist yet
            pass


@app.command()
def init(
    name: Annotated[
        str,
        typer.Argument(help="Experiment name (my-experiment) or file path ending in .py."),
    ],
    template: Annotated[
        str,
        typer.Option(
            "--template",
            "-t",
            help="What the file starts from: "
            + "; ".join(f"{k}: {v}" for k, v in TEMPLATES.items()),
        ),
    ] = "branin",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a new experiment file, commented field by field, that runs as written."""
    from flows.scaffold import write_experiment

    path = write_experiment(name, template, force=force)
    console.print(f"wrote {path} (template: {template})", markup=False, highlight=False)
    console.print(
        f"next: edit it, then  bayesopt run {path}  (bayesopt status {path} lists the trials)",
        markup=False,
        highlight=False,
    )


@app.command()
def run(
    experiment: ExperimentArg,
    budget: Annotated[int | None, typer.Option(help="Trials to finish (overrides).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Trials per batch.")] = None,
    surrogate: Annotated[str | None, typer.Option(help="Surrogate model name.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the strategy.")] = None,
    storage: StorageOpt = None,
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow tracking URI.")
    ] = None,
    task_runner: Annotated[
        str, typer.Option("--task-runner", help="Where evaluations run: thread or dask.")
    ] = "thread",
    dask_address: Annotated[
        str | None,
        typer.Option("--dask-address", help="Dask scheduler; default: a local cluster."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Threads, or local Dask worker processes.")
    ] = None,
    asynchronous: AsyncOpt = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Show the libraries' output (Prefect's logs, MLflow's and JAX's warnings) "
            "here; without it, it goes to runs/<name>.log.",
        ),
    ] = False,
) -> None:
    """Run an experiment through the Prefect flow until its budget is spent (resumes)."""
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # MLflow announces its database migrations at INFO; read when mlflow is imported.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    from flows.loading import (
        RUNS_DIR,
        STORAGE_URL_ENV,
        TRACKING_URI_ENV,
        default_storage,
        default_tracking_uri,
        hide_secret,
    )
    from flows.optimize import INTERRUPTED, optimize
    from flows.quiet import stderr_to_log
    from flows.runners import make_task_runner
    from flows.server import local_prefect_api

    def interrupt(signum: int, frame: object) -> None:
        INTERRUPTED.set()  # read by the loop, should the exception below be swallowed
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, interrupt)
    INTERRUPTED.clear()
    exp = _load(experiment).replace(
        budget=budget, batch_size=batch_size, surrogate=surrogate, seed=seed
    )
    store_url = default_storage(exp, storage)
    try:
        runner = make_task_runner(task_runner, address=dask_address, workers=workers)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    stop = threading.Event()
    progress = Progress(
        TextColumn(f"[bold]{exp.name}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best {task.fields[best]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        # Verbose: the libraries' output is printed above the bar. Else it goes to the
        # log file, through file descriptor 2, which this must not wrap.
        redirect_stderr=verbose,
    )
    quiet = (
        contextlib.nullcontext(None)
        if verbose
        else stderr_to_log(RUNS_DIR / f"{exp.name}.log", f"bayesopt run {experiment}")
    )
    with quiet as library_log, local_prefect_api(), progress:
        watcher = threading.Thread(
            target=_watch, args=(stop, exp, store_url, progress), daemon=True
        )
        watcher.start()
        try:
            # Passwords travel in the environment, never as Prefect parameters.
            summary = optimize.with_options(task_runner=runner)(
                str(experiment),
                budget=budget,
                batch_size=batch_size,
                surrogate=surrogate,
                seed=seed,
                storage=hide_secret(store_url, STORAGE_URL_ENV),
                tracking_uri=hide_secret(default_tracking_uri(tracking_uri), TRACKING_URI_ENV),
                asynchronous=asynchronous,
            )
        finally:
            stop.set()
            watcher.join(timeout=10)
    opt = bo.Optimizer(exp, storage=store_url)
    counts = f"{summary['n_completed']} completed ({summary['n_failed']} failed)"
    try:
        if exp.is_multi_objective:
            front = opt.pareto()
            console.print(_trial_table(exp, front, f"{_front_title(exp, opt, front)}; {counts}"))
        else:
            console.print(_trial_table(exp, [opt.best()], f"Best of {counts}"))
    except BayesoptError as exc:
        console.print(f"[yellow]{exc}[/]")
    if summary.get("stopped"):
        _print_stop(summary["stopped"])
    console.print(f"trials: {_mask_url(store_url)}")
    if library_log is not None and library_log.lines:
        console.print(
            f"messages of the libraries: {library_log.path} ({library_log.lines} lines; "
            "--verbose shows them here)",
            markup=False,
            highlight=False,
        )
    console.print(
        f"MLflow: experiment '{exp.name}' (id {summary['mlflow_experiment_id']}), run "
        f"{summary['mlflow_run_id']} in {summary['tracking_uri']}",
        markup=False,
        highlight=False,
    )
    # Not wrapped, so that the link stays whole for the terminal to open or copy.
    console.print(f"to browse it, {summary['ui_hint']}", soft_wrap=True, markup=False)


@app.command()
def deploy(
    experiment: ExperimentArg,
    name: Annotated[str, typer.Option("--name", help="Deployment name, e.g. nightly.")],
    cron: Annotated[str | None, typer.Option(help="Schedule, e.g. '0 2 * * *'.")] = None,
    work_pool: Annotated[
        str | None,
        typer.Option("--work-pool", help="Register to this work pool instead of serving."),
    ] = None,
    budget: Annotated[int | None, typer.Option(help="Trials to finish (overrides).")] = None,
    storage: StorageOpt = None,
    tracking_uri: Annotated[
        str | None, typer.Option("--tracking-uri", help="MLflow tracking URI.")
    ] = None,
    asynchronous: AsyncOpt = False,
) -> None:
    """Make a Prefect deployment of the flow for an experiment (needs PREFECT_API_URL).

    Serves it from this process (Ctrl-C stops), or registers it to a work pool.
    """
    from flows.deploy import absolute_sqlite, register, serve
    from flows.loading import (
        STORAGE_URL_ENV,
        TRACKING_URI_ENV,
        default_storage,
        default_tracking_uri,
        hide_secret,
    )

    exp = _load(experiment)
    store_url = absolute_sqlite(default_storage(exp, storage))
    tracking = absolute_sqlite(default_tracking_uri(tracking_uri))
    parameters: dict[str, Any] = {
        "experiment_path": str(experiment.resolve()),
        "storage": hide_secret(store_url, STORAGE_URL_ENV),
        "tracking_uri": hide_secret(tracking, TRACKING_URI_ENV),
    }
    if budget is not None:
        parameters["budget"] = budget
    if asynchronous:
        parameters["asynchronous"] = True
    flow_name = f"bayesopt-optimize/{name}"
    if work_pool:
        deployment_id = register(name, parameters, work_pool=work_pool, cron=cron)
        console.print(
            f"deployment {flow_name} ({deployment_id}) registered to work pool '{work_pool}'.\n"
            f"start a worker: prefect worker start --pool {work_pool}\n"
            f"start a run:    prefect deployment run '{flow_name}'"
        )
        return
    console.print(f"serving {flow_name}; start a run with: prefect deployment run '{flow_name}'")
    serve(name, parameters, cron=cron)


@app.command()
def status(experiment: ExperimentArg, storage: StorageOpt = None) -> None:
    """Show every trial of the experiment."""
    exp, opt = _optimizer(experiment, storage)
    trials = opt.all_trials()
    counts = {s.value: sum(t.status == s for t in trials) for s in bo.TrialStatus}
    summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
    console.print(_trial_table(exp, trials, f"{exp.name}: {summary or 'no trials'}"))
    if exp.is_multi_objective and any(t.status == bo.TrialStatus.COMPLETED for t in trials):
        try:
            front = opt.pareto()
            console.print(_trial_table(exp, front, _front_title(exp, opt, front)))
        except BayesoptError as exc:  # none feasible yet
            console.print(f"[yellow]{exc}[/]")
    stop = opt.stop_record()
    if stop:
        _print_stop(stop)


@app.command()
def best(
    experiment: ExperimentArg,
    storage: StorageOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    basins: Annotated[
        bool,
        typer.Option(
            "--basins", help="The distinct optima: the basins of the good trials, best first."
        ),
    ] = False,
) -> None:
    """Show the best feasible trial, or the Pareto front when there are several objectives."""
    exp, opt = _optimizer(experiment, storage)
    if basins:
        _print_basins(exp, opt, as_json)
        return
    trials = opt.pareto() if exp.is_multi_objective else [opt.best()]
    if as_json:
        rows = [
            {"id": t.id, "params": t.params, "values": t.values, "sems": t.sems} for t in trials
        ]
        if exp.is_multi_objective:
            print(json.dumps({"pareto": rows, "hypervolume": opt.hypervolume()}))
        else:
            print(json.dumps(rows[0]))
    elif exp.is_multi_objective:
        console.print(_trial_table(exp, trials, _front_title(exp, opt, trials)))
    else:
        console.print(_trial_table(exp, trials, f"{exp.name}: best trial"))


def _print_basins(exp: Experiment, opt: Optimizer, as_json: bool) -> None:
    df = opt.basins()
    n_basins, n_points = df.attrs["n_basins"], df.attrs["n_points"]
    count_probs = {str(k): float(v) for k, v in df.attrs["count_probs"].items()}
    if as_json:
        rows = df.to_dict(orient="records")
        print(
            json.dumps(
                {
                    "basins": rows,
                    "n_basins": n_basins,
                    "count_probs": count_probs,
                    "n_points": n_points,
                }
            )
        )
        return
    probs = ", ".join(f"{k}: {v:.2f}" for k, v in count_probs.items())
    table = Table(
        title=f"{exp.name}: {n_basins} basin(s) among the best {n_points} trials "
        f"(P(number of basins) {probs})"
    )
    for col in df.columns:
        table.add_column(str(col), justify="right" if col in ("basin", "trial") else "left")
    for row in df.itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)


@app.command()
def suggest(
    experiment: ExperimentArg,
    n: Annotated[int, typer.Option("-n", help="How many trials to suggest.")] = 1,
    storage: StorageOpt = None,
    fixed: Annotated[
        list[str] | None,
        typer.Option(
            "--fixed", help="Context: name=value of a parameter held at today's value (repeat)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Suggest trials to run by hand; report each with `bayesopt observe`."""
    exp, opt = _optimizer(experiment, storage)
    context = _pairs(exp, fixed or [], "--fixed")
    trials = opt.suggest(n, fixed=context or None)
    if as_json:
        for t in trials:
            print(json.dumps({"id": t.id, "params": t.params}))
        return
    console.print(_trial_table(exp, trials, "Run these, then: bayesopt observe FILE ID y=VALUE"))


@app.command()
def observe(
    experiment: ExperimentArg,
    trial_id: Annotated[int, typer.Argument(help="The trial's id.")],
    values: Annotated[
        list[str] | None,
        typer.Argument(
            help="name=value pairs (name=mean+-sem for a measured standard error), or one number."
        ),
    ] = None,
    fail: Annotated[
        str | None, typer.Option("--fail", help="Record the trial as failed, with this reason.")
    ] = None,
    storage: StorageOpt = None,
) -> None:
    """Record the result of a trial that was run by hand."""
    exp, opt = _optimizer(experiment, storage)
    if fail is not None:
        trial = opt.fail(trial_id, fail)
        console.print(f"trial {trial.id} recorded as failed: {fail}")
        return
    if not values:
        raise typer.BadParameter(
            "give the outcome as name=value (or --fail REASON)", param_hint="VALUES"
        )
    parsed: dict[str, Any] | Any
    if len(values) == 1 and "=" not in values[0]:
        parsed = _measurement(values[0], exp.objective.name)
    else:
        parsed = {}
        for item in values:
            key, sep, raw = item.partition("=")
            if not sep:
                raise typer.BadParameter(f"{item!r}: expected name=value", param_hint="VALUES")
            parsed[key] = _measurement(raw, key)
    trial = opt.observe(trial_id, parsed)
    sems = f" (standard errors {trial.sems})" if trial.sems else ""
    console.print(f"trial {trial.id} completed: {trial.values}{sems}")


@app.command()
def predict(
    experiment: ExperimentArg,
    point: Annotated[list[str], typer.Argument(help="name=value for every parameter.")],
    storage: StorageOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Predict the objective at a point: mean and 95% interval from the deciding surrogate."""
    exp, opt = _optimizer(experiment, storage)
    params = _pairs(exp, point, "POINT")
    fitted = opt.fitted()
    row = fitted.predict(params).iloc[0].to_dict()
    if as_json:
        print(json.dumps({"surrogate": fitted.surrogate, "n_train": fitted.n_train, **row}))
        return
    name = exp.objective.name
    console.print(
        f"{name} = {row[f'{name}_mean']:.6g}  (95% interval {row[f'{name}_lower']:.6g} to "
        f"{row[f'{name}_upper']:.6g}; surrogate {fitted.surrogate} on {fitted.n_train} trials)"
    )


def _pairs(exp: Experiment, items: list[str], hint: str) -> dict[str, Any]:
    """``name=value`` items as parameter values of their parameters' types."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise typer.BadParameter(f"{item!r}: expected name=value", param_hint=hint)
        out[key] = _param_value(exp, key, raw)
    return out


def _measurement(raw: str, name: str) -> float | tuple[float, float]:
    """``1.5`` or ``1.5+-0.2`` (also ``1.5±0.2``): a value, or a mean with its standard error."""
    for sep in ("+-", "±"):
        if sep in raw:
            mean, _, sem = raw.partition(sep)
            return _number(mean, name), _number(sem, f"{name} (sem)")
    return _number(raw, name)


def _param_value(exp: Experiment, name: str, raw: str) -> Any:
    """A command-line value as the parameter's type (a choice matches its values' text)."""
    if name not in exp.space.names:
        return raw  # the space names the unknown parameter
    param = exp.space[name]
    values = getattr(param, "values", None)
    if values is not None:
        return next((v for v in values if str(v) == raw), raw)
    try:
        return int(raw) if isinstance(param, bo.Int) else float(raw)
    except ValueError:
        raise typer.BadParameter(f"{name}: {raw!r} is not a number", param_hint="POINT") from None


def _number(raw: str, name: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise typer.BadParameter(f"{name}: {raw!r} is not a number", param_hint="VALUES") from None


@app.command(name="import")
def import_(
    experiment: ExperimentArg,
    table: Annotated[Path, typer.Argument(help="CSV file of completed trials, one row per trial.")],
    storage: StorageOpt = None,
    extra: Annotated[
        list[str] | None,
        typer.Option("--extra", help="A further column to keep as an extra outcome (repeat)."),
    ] = None,
) -> None:
    """Import completed trials from a CSV file (earlier work, another tool), all or none."""
    from bayesopt.importing import commit_import, prepare_import

    exp, opt = _optimizer(experiment, storage)
    prepared = prepare_import(opt, table, extras=extra or ())
    trials = commit_import(opt, prepared)
    console.print(
        f"imported {len(trials)} trial(s) from {table.name} into experiment '{exp.name}' "
        f"({prepared.skipped} row(s) skipped: not completed)",
        markup=False,
    )
    console.print(f"trials: {_mask_url(opt.store.url)}", markup=False)


@app.command()
def ui(
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri")] = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind; loopback by default.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 5000,
) -> None:
    """Start the MLflow UI for this project's tracking store (Ctrl-C stops it)."""
    from flows.loading import default_tracking_uri

    uri = default_tracking_uri(tracking_uri)
    mlflow_bin = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    from flows.tracking import UI_WORKFLOW

    console.print(
        f"MLflow UI for {_mask_url(uri)} on http://{host}:{port}/#/experiments?workflowType="
        f"{UI_WORKFLOW} (Ctrl-C stops it)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    cmd = [mlflow_bin, "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    raise typer.Exit(_serve(cmd))


@app.command()
def docs(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Serve the documentation site locally with MkDocs (Ctrl-C stops it)."""
    config = Path(__file__).resolve().parent.parent / "mkdocs.yml"
    if not config.is_file():
        raise BayesoptError(
            f"docs: no mkdocs.yml beside the installed package (looked for {config}); the "
            "documentation's sources are in the project's repository: serve them from a clone"
        )
    mkdocs_bin = shutil.which("mkdocs") or str(Path(sys.executable).with_name("mkdocs"))
    if not Path(mkdocs_bin).is_file():
        raise BayesoptError(
            "docs: MkDocs is not installed; install the docs extra (pip install -e '.[docs]' "
            "in the clone, or: source scripts/env.sh dev,docs)"
        )
    console.print(f"documentation on http://{host}:{port} (Ctrl-C stops it)")
    cmd = [mkdocs_bin, "serve", "-f", str(config), "--dev-addr", f"{host}:{port}"]
    raise typer.Exit(_serve(cmd, cwd=config.parent))  # the pages include files by path


def _serve(cmd: list[str], cwd: Path | None = None) -> int:
    """Run a server command until it ends or this process is asked to stop.

    The server runs in a process group of its own (MLflow's CLI starts the web server
    as a further child); SIGINT and SIGTERM to this process stop the whole group, and
    the kernel sends the server SIGTERM should this process die without that.
    """
    from flows.server import die_with_parent

    proc = subprocess.Popen(
        cmd, cwd=cwd, start_new_session=True, preexec_fn=die_with_parent(os.getpid())
    )
    stopped: list[int] = []

    def stop(signum: int, frame: object) -> None:
        stopped.append(signum)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(ProcessLookupError):  # whatever of the group is left
            os.killpg(proc.pid, signal.SIGTERM)
    return 0 if stopped else code


def main() -> None:
    try:
        app()
    except BayesoptError as exc:
        err.print(f"[red]error:[/] {exc}")
        sys.exit(2)
