"""Sharing Explorer: design cross-layer parameter sharing and measure it on real models."""

__version__ = "0.1.0"
