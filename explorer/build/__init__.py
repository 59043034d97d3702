"""Spec -> torch.nn.Module with truly shared parameters (imports torch)."""

from explorer.build.runtime import SharedStack
from explorer.build.stack import TORCH_DTYPES, build_model, build_twin
from explorer.build.verify import Verification, torch_flops, verify

__all__ = ["TORCH_DTYPES", "SharedStack", "Verification", "build_model", "build_twin", "torch_flops", "verify"]
