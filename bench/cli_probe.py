"""``python -m bench.cli_probe …``: the ``job-importer`` command with ``bench.probe`` loaded.

So that the benchmark counts the store round trips of the command that triggers an import and
waits for it, beside the workers' (``bench/peer.py``).
"""

from __future__ import annotations

import bench.probe  # noqa: F401  (registers the counters before the command opens a client)
from cli.app import main

if __name__ == "__main__":
    main()
