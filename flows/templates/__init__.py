"""Experiment files that ``bayesopt init`` writes: each one runs as written."""
