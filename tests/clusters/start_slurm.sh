#!/usr/bin/env bash
# Start a private one-node Slurm cluster on 127.0.0.1 for the tests.
#
#   tests/clusters/start_slurm.sh STATEDIR
#
# Everything lives under STATEDIR: munge key/socket, slurm.conf, gres.conf,
# state, spool, logs and the PID files that stop_slurm.sh uses.  Ports are
# picked free at start, so it does not collide with a system Slurm.  On
# success it prints the path of slurm.conf; export SLURM_CONF=<that path> and
# put STATEDIR/bin first on PATH (srun shim, see below) before calling
# sbatch/squeue/snakemake.  Requires root (SlurmUser=root).
#
# The node advertises one count-only GRES "npu" (no device file), so jobs can
# ask for --gres=npu:1 exactly as on an Ascend cluster.  The node's CPU/memory
# figures are test values (SlurmdParameters=config_overrides, nothing is
# enforced: TaskPlugin=task/none, ProctrackType=proctrack/linuxproc).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
[ $# -eq 1 ] || { echo "usage: $0 STATEDIR" >&2; exit 2; }
mkdir -p "$1"
S=$(cd "$1" && pwd)
for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || { echo "start_slurm: $tool not found (run tests/clusters/install_slurm.sh)" >&2; exit 3; }
done
if [ -s "$S/slurmctld.pid" ] && kill -0 "$(cat "$S/slurmctld.pid")" 2>/dev/null; then
    echo "start_slurm: a cluster is already running from $S" >&2; exit 4
fi
mkdir -p "$S"/{munge,state,spool,log}
chmod 700 "$S/munge"

free_port() {
    python3 - <<'PY' 2>/dev/null || echo $(( 20000 + RANDOM % 20000 ))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
while [ "$SLURMD_PORT" = "$CTLD_PORT" ]; do SLURMD_PORT=$(free_port); done
NODE=testnode
CPUS=$(nproc); [ "$CPUS" -ge 4 ] || CPUS=4
MEM=$(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo); [ "$MEM" -ge 16000 ] || MEM=16000

# --- munge: private key and socket -------------------------------------------
[ -s "$S/munge/munge.key" ] || { dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none; }
chmod 400 "$S/munge/munge.key"
munged --force --key-file="$S/munge/munge.key" --socket="$S/munge/munge.socket" \
       --pid-file="$S/munge/munged.pid" --log-file="$S/log/munged.log" \
       --seed-file="$S/munge/munged.seed"
for _ in $(seq 50); do [ -s "$S/munge/munged.pid" ] && break; sleep 0.1; done
cp "$S/munge/munged.pid" "$S/munged.pid"

# --- slurm configuration -----------------------------------------------------
cat > "$S/slurm.conf" <<CONF
ClusterName=snaketest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$S/munge/munge.socket
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool/%n
SlurmctldPidFile=$S/slurmctld.pid.slurm
SlurmdPidFile=$S/slurmd.pid.slurm
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
DefMemPerCPU=512
KillWait=5
InactiveLimit=0
Waittime=0
GresTypes=npu
NodeName=$NODE NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=npu:1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
cat > "$S/gres.conf" <<CONF
# count-only GRES: no device file behind it, Slurm only does the bookkeeping
NodeName=$NODE Name=npu Count=1
CONF
export SLURM_CONF="$S/slurm.conf"

# srun shim: snakemake-executor-plugin-slurm-jobstep (0.6.1) drops every SLURM_*
# variable, SLURM_CONF included, before its inner `srun`, so inside a job srun
# would only look at /etc/slurm/slurm.conf (cf. snakemake-executor-plugin-slurm
# issue #164).  Rather than writing to /etc, the tests put $S/bin first on PATH;
# this srun points the real one back at this cluster's config.
mkdir -p "$S/bin"
REAL_SRUN=$(command -v srun)
cat > "$S/bin/srun" <<SHIM
#!/bin/sh
SLURM_CONF="$S/slurm.conf" exec "$REAL_SRUN" "\$@"
SHIM
chmod +x "$S/bin/srun"

# --- daemons -----------------------------------------------------------------
# -D keeps them in the foreground of a background job, so $! is their real PID.
slurmctld -D -i -f "$S/slurm.conf" >"$S/log/slurmctld.out" 2>&1 &
echo $! > "$S/slurmctld.pid"
slurmd -D -N "$NODE" -f "$S/slurm.conf" >"$S/log/slurmd.out" 2>&1 &
echo $! > "$S/slurmd.pid"

for _ in $(seq 150); do
    state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)
    case "$state" in idle) echo "$S/slurm.conf"; exit 0 ;; esac
    for d in slurmctld slurmd; do
        kill -0 "$(cat "$S/$d.pid")" 2>/dev/null || {
            echo "start_slurm: $d exited; last log lines:" >&2
            tail -n 20 "$S/log/$d.out" "$S/log/$d.log" >&2 2>/dev/null || true
            exit 5; }
    done
    sleep 0.2
done
echo "start_slurm: node $NODE not idle after 30 s (state '${state:-?}')" >&2
tail -n 20 "$S/log/slurmctld.log" "$S/log/slurmd.log" >&2 2>/dev/null || true
exit 6
