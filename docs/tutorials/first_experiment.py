"""Tutorial: a first experiment from the command line.

``bayesopt run experiments/branin.py`` is the example's run (its budget of 25);
``bayesopt init`` writes a commented experiment file that runs as written;
``bayesopt run`` runs its budget through the Prefect flow; ``bayesopt status`` and
``bayesopt best`` read the store. Each command is run here as a subprocess, as in a
terminal, and what it printed is shown.
"""

import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path


def sh(*cmd: str) -> None:
    """Run a command as a shell would; print it and what it printed; stop on failure."""
    print(f"$ {shlex.join(cmd)}", flush=True)
    out = subprocess.run(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600
    )
    if out.stdout.strip():
        print(textwrap.indent(out.stdout.rstrip(), "  "), flush=True)
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} exited with code {out.returncode}")


# The example that scripts/run_example.sh runs, from a copy of experiments/branin.py.
Path("experiments").mkdir(exist_ok=True)
shutil.copy(Path(__file__).resolve().parents[2] / "experiments" / "branin.py", "experiments")

# --8<-- [start:commands]
sh("bayesopt", "run", "experiments/branin.py")
sh("bayesopt", "init", "my_experiment")
sh("bayesopt", "run", "my_experiment.py", "--budget", "10")
sh("bayesopt", "status", "my_experiment.py")
sh("bayesopt", "best", "my_experiment.py", "--json")
sh("ls", "runs")
# --8<-- [end:commands]
