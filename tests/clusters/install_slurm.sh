#!/usr/bin/env bash
# Install Debian's Slurm (slurmctld + slurmd + client tools) and munge for the
# one-node test cluster used by tests/clusters/test_slurm_cluster.py.  Test tooling only:
# the workflow itself never needs Slurm on the submit host except for sbatch.
#
# Idempotent: exits 0 at once when the daemons are already on PATH.
# Never fails the caller: when the packages cannot be installed (no root, no
# apt, no network) it says so and exits 0, and the cluster tests skip with
# that reason.
set -u
export PATH="$PATH:/usr/sbin:/sbin"
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
   && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    echo "install_slurm: slurm-wlm and munge already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"
    else echo "install_slurm: not root and no passwordless sudo; cluster tests will be skipped"; exit 0; fi
fi
if ! command -v apt-get >/dev/null; then
    echo "install_slurm: apt-get not found; cluster tests will be skipped"; exit 0
fi
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 \
   && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        slurm-wlm munge >>"$log" 2>&1; then
    echo "install_slurm: installed $(slurmctld -V 2>/dev/null) and munge"
else
    echo "install_slurm: apt-get failed; cluster tests will be skipped. Last lines:"
    tail -n 5 "$log"
fi
rm -f "$log"
exit 0
