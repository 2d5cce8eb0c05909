#!/usr/bin/env bash
# Stop the cluster that start_slurm.sh started from STATEDIR, by the PIDs it
# recorded there (and only those).  Safe to call twice.
set -u
[ $# -eq 1 ] || { echo "usage: $0 STATEDIR" >&2; exit 2; }
S="$1"
stop_pid() {  # $1 = pid file; TERM, wait up to 10 s, then KILL
    local f="$S/$1" pid
    [ -s "$f" ] || return 0
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$f"
}
# cancel what is still queued or running on this cluster (its own SLURM_CONF),
# so that no job step outlives slurmd
if [ -s "$S/slurm.conf" ] && [ -s "$S/slurmctld.pid" ] && kill -0 "$(cat "$S/slurmctld.pid")" 2>/dev/null; then
    ids=$(SLURM_CONF="$S/slurm.conf" squeue -h -t PD,R,CG,S -o %i 2>/dev/null || true)
    if [ -n "$ids" ]; then
        SLURM_CONF="$S/slurm.conf" scancel $ids 2>/dev/null || true
        for _ in $(seq 50); do
            [ -z "$(SLURM_CONF="$S/slurm.conf" squeue -h -t PD,R,CG -o %i 2>/dev/null)" ] && break; sleep 0.2
        done
    fi
fi
stop_pid slurmd.pid
stop_pid slurmctld.pid
stop_pid munged.pid
exit 0
