"""Pure design model: settings, layers, sharing groups, YAML I/O, strategies, checks.

Never imports torch or Qt (tests/test_purity.py checks it).
"""

from explorer.design.model import (
    ACTIVATIONS,
    KINDS,
    LayerSpec,
    Member,
    ModelSettings,
    SharingGroup,
    StackSpec,
)

__all__ = [
    "ACTIVATIONS",
    "KINDS",
    "LayerSpec",
    "Member",
    "ModelSettings",
    "SharingGroup",
    "StackSpec",
]
