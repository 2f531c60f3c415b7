"""Analyses of a run's history that change what is decided next.

- :mod:`bayesopt.analysis.basins`: the basins of the good trials, a Dirichlet process
  mixture of Gaussians in the encoded space; a batch is spread across them
  (``BO(spread="basins")``) and :meth:`bayesopt.Optimizer.basins` lists the distinct
  optima.
- :mod:`bayesopt.analysis.regimes`: the regimes of a run (improving, refining,
  stalled), a hidden Markov model of the trace of improvements, expected improvements
  and surprises; it stops a stalled run (:class:`bayesopt.Stalled`) or hands it to a
  trust region (``TrustRegion(after_regime="stalled")``), and it detects drift in
  repeated measurements of a reference point (:meth:`bayesopt.Optimizer.drift`).
"""
