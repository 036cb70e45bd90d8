"""``torchrun``, but a failed job ends with the failing rank's own one-line message.

Plain ``torchrun`` ends a failed job with its ``ChildFailedError`` report: its own
traceback and a box with each failed rank's exit code.  The scripts here hand their
one-line message to the agent (``common.report_failure``), so the box already shows it
as the root cause; this wrapper prints only that line, last, and exits with 1.

Run it exactly like torchrun:
``python -m snippets.distributed.launch --standalone --nproc-per-node=2 -m
snippets.distributed.ddp --run-dir r``
"""

from __future__ import annotations

import sys

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import get_args_parser, run


def root_cause(err: ChildFailedError) -> str:
    """The job's failure as one line: the earliest rank message, else the first exit."""
    messages = []
    for rank, failure in sorted(err.failures.items()):
        message = failure.message
        if isinstance(message, dict):  # an error file written by the rank
            message = message.get("message", "")
        if failure.error_file != "<N/A>" and message:
            messages.append((failure.timestamp, rank, str(message)))
    if messages:
        return min(messages)[2]
    rank, failure = err.get_first_failure()  # killed, or a bug: no message of its own
    reason = f"{failure.message} " if failure.exitcode < 0 else ""
    return (
        f"rank {rank} failed with exit code {failure.exitcode} {reason}"
        "(its output above says why)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run torchrun with ``argv``; on failure print the root cause last, return 1."""
    args = get_args_parser().parse_args(argv)
    try:
        run(args)
    except ChildFailedError as err:
        print(root_cause(err), file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
