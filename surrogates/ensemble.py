"""Sample-based surrogates as BoTorch ensemble models.

A posterior represented by ``s`` sampled functions (weights of a Bayesian neural
network, NUTS draws of a user's model) becomes an
:class:`~botorch.models.ensemble.EnsembleModel`: its posterior is an
:class:`~botorch.posteriors.ensemble.EnsemblePosterior` over the ``s`` members,
so Monte Carlo acquisition functions sample across members (BoTorch's
``IndexSampler``). Each member also carries its own observation noise, which the
predictive distribution (:meth:`SampledEnsembleModel.predictive`) adds.
"""

from __future__ import annotations

from abc import abstractmethod

import torch
from botorch.models.ensemble import EnsembleModel
from torch import Tensor

from surrogates.predictive import GaussianMixture, Predictive


class SampledEnsembleModel(EnsembleModel):
    """An ensemble of ``s`` sampled functions, each with Gaussian observation noise.

    Subclasses implement :meth:`members`, which returns the members' noiseless
    outputs in the units of the training data (no outcome transform is applied).

    Args:
        noise_std: A ``s x m``-dim tensor: each member's observation noise standard
            deviation, in the units of the data.
    """

    noise_std: Tensor

    def __init__(self, noise_std: Tensor) -> None:
        super().__init__()
        if noise_std.dim() != 2:
            raise ValueError(f"noise_std: expected s x m, got shape {tuple(noise_std.shape)}")
        self.register_buffer("noise_std", noise_std.detach().clone())
        self._num_outputs = int(noise_std.shape[-1])

    @property
    def ensemble_size(self) -> int:
        return int(self.noise_std.shape[0])

    @abstractmethod
    def members(self, X: Tensor) -> Tensor:
        """A ``batch_shape x s x n x m``-dim tensor of member outputs at ``batch_shape x n x d``
        inputs ``X``."""

    def forward(self, X: Tensor) -> Tensor:
        return self.members(X)

    def predictive(self, X: Tensor) -> Predictive:
        """The mixture over members of ``N(member(x), noise_std^2)`` at ``n x d`` inputs ``X``."""
        self.eval()
        with torch.no_grad():
            locs = self.members(self.transform_inputs(X))
        scales = self.noise_std.unsqueeze(-2).expand_as(locs).to(locs)
        return GaussianMixture(locs, scales)
