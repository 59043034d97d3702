"""The `explorer` command: the app, or report / compare / apply / bench / sweep / ... (parser.py).

`main` is the console script (pyproject: explorer.cli:main) and `python -m explorer`.
commands.py runs each command, formatters.py writes their text (and the app's timing
readout). Only the commands that build a model (report --verify, bench, sweep --device,
export) and the app import torch; a report is pure analysis and answers at once.
"""

from explorer.cli.entry import main

__all__ = ["main"]
