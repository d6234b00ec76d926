"""A batch task that really hangs on one file, for the --timeout tests (not a test module).

``hang_on(file, ...)`` sleeps :data:`HANG_SECONDS` when the file's name starts
with ``hang`` and is :func:`stemlayers.batch.analyze_one` otherwise. A sleep
is a real hang of the worker's thread: only killing the worker process ends
it, which is what the timeout has to do.

Dask workers are separate processes that cannot import this file (tests/ is
not a package on their path), so the test registers this module with
cloudpickle to be pickled by value: the function travels with each task and
only ``stemlayers`` and ``time`` are imported on the worker.
"""

import time
from pathlib import Path

from stemlayers.batch import analyze_one

#: Long against any timeout the tests use: a batch that waits for it fails the test's own time limit.
HANG_SECONDS = 300


def hang_on(file, *args):
    """analyze_one, except that a file named ``hang*`` first sleeps HANG_SECONDS."""
    if Path(file).name.startswith("hang"):
        time.sleep(HANG_SECONDS)
    return analyze_one(file, *args)
