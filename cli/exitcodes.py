"""The CLI's exit codes, one per kind of outcome a script may want to tell apart.

Documented in the README ("Exit codes"); ``tests/cli/test_exit_codes.py`` produces each one.
"""

from __future__ import annotations

OK = 0
#: ``import --wait`` / ``demo``: at least one run ended failed; or a confirmation was answered no.
RUN_FAILED = 1
#: A mistake on the command line (Click's own code for usage errors).
USAGE = 2
#: ``import --wait --timeout``: the runs had not finished in time (they go on; the batch id is printed).
TIMED_OUT = 3
#: Redis or MongoDB does not answer.
UNREACHABLE = 4
#: A setting (environment variable or ``.env``) is invalid.
BAD_CONFIG = 5
#: The ids given (``dlq requeue``/``purge``) match nothing, or not everything.
NOT_FOUND = 6
#: Interrupted with Ctrl-C.
INTERRUPTED = 130
