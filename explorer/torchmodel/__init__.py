"""Spec -> torch.nn.Module with truly shared parameters (imports torch)."""

from explorer.torchmodel.runtime import SharedStack
from explorer.torchmodel.stack import TORCH_DTYPES, build_model, build_twin
from explorer.torchmodel.verify import Verification, torch_flops, verify

__all__ = ["TORCH_DTYPES", "SharedStack", "Verification", "build_model", "build_twin", "torch_flops", "verify"]
