"""Jobs: timing and training runs as plain-data payloads, run by one body in a local worker
process (jobs/local.py) or a Ray actor (cluster/remote_run.py)."""
