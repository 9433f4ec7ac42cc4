"""Running a pipeline stage from a Snakemake script: logging, and short errors for bad input."""

import logging
import sys
import warnings

from .errors import InputError

log = logging.getLogger("gpgcn")


def run_stage(log_path, function, *args, **kwargs):
    """Call `function`, logging to the rule's log file.

    Bad input ends the job with one line naming the file and value (also in the log) and exit
    status 1; Snakemake then removes the job's outputs. Anything else is raised with its traceback,
    which also goes to the log.
    """
    logging.basicConfig(
        filename=log_path, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s", force=True
    )
    logging.captureWarnings(True)
    warnings.simplefilter("default")
    try:
        return function(*args, **kwargs)
    except InputError as error:
        log.error("%s", error)
        print(f"gpgcn error: {error}", file=sys.stderr)
        sys.exit(1)
    except Exception:
        # On a cluster stderr goes to the scheduler's log; the rule's log must say it too.
        log.exception("failed")
        raise
