#!/usr/bin/env python3
"""Print running, success or failed for one Donau job id (cluster-generic's status command).

One batched djob round answers for every job this workflow follows and is reused for
HHRNET_DONAU_STATUS_TTL seconds (default 5), so 100 jobs cost a few djob calls per round, not
hundreds. Success only when Donau says SUCCEEDED; a job djob does not list stays running for
HHRNET_DONAU_UNKNOWN_GRACE seconds (default 600), is then cancelled and reported failed. Details
and facts: donau_jobs.py and README.md.
"""
import sys

import donau_jobs

if __name__ == "__main__":
    if len(sys.argv) != 2:
        donau_jobs.fail("usage: donau-status.py JOBID")
    verdict, message = donau_jobs.status(sys.argv[1])
    if message:
        print(message, file=sys.stderr)
    print(verdict)
