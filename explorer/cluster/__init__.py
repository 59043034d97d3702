"""Sweeps beyond one machine: each measured or trained point a self-contained job (points.py),
run in-process or as Ray tasks on a cluster (ray_backend.py; Ray is an optional extra)."""
