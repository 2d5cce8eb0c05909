#!/usr/bin/env python3
"""cluster-generic's sidecar for this profile: when the run shuts down (Ctrl-C included), cancel
the jobs of the run that Donau has not finished and the cancel command was not given (Snakemake
misses those under a status check at that moment). See donau_jobs.sidecar and README.md."""
import donau_jobs

if __name__ == "__main__":
    donau_jobs.sidecar()
