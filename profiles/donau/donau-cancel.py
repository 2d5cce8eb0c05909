#!/usr/bin/env python3
"""Cancel Donau jobs on Ctrl-C (cluster-generic's cancel command): `donau-cancel.py JOBID...`.

Runs HHRNET_DONAU_CANCEL (default `dkill -y`: plain dkill asks for confirmation; some sites use
`djob -T`) once per id, detached, so that cluster-generic's 2-second limit on this command does
not cut the cancellations short. Output: .snakemake/donau_logs/cancel.log.
"""
import sys

import donau_jobs

if __name__ == "__main__":
    if len(sys.argv) < 2:
        donau_jobs.fail("usage: donau-cancel.py JOBID...")
    failures = donau_jobs.cancel(sys.argv[1:])
    for message in failures:
        print(f"donau-cancel: {message}", file=sys.stderr)
    sys.exit(1 if failures else 0)
