"""``python -m flows`` is the ``bayesopt`` command."""

from flows.cli import main

main()
