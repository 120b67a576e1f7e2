"""Flow matching (Lipman et al. 2023; Liu et al. 2023; Albergo and Vanden-Eijnden 2023)."""

from genlab.core.flow.matching import cfm_loss, linear_path, sample_flow

__all__ = ["cfm_loss", "linear_path", "sample_flow"]
