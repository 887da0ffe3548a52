#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, and a real Slurm sweep of dtl on the tiny corpus.
#
#   bash scripts/slurm_cluster.sh test    # install, start, sweep, check `dtl report`, stop
#   bash scripts/slurm_cluster.sh up      # install and start (then: export SLURM_CONF=...)
#   bash scripts/slurm_cluster.sh down    # stop the daemons this script started
#
# Needs root and apt (Debian's slurm-wlm and munge packages; installed when missing). The
# daemons run in the foreground-less way of a container (no systemd): munged, slurmctld and
# slurmd are started directly, with their config, state and logs in $DTL_SLURM_DIR (default
# /tmp/dtl-slurm); clients find the cluster through SLURM_CONF, so /etc/slurm stays untouched.
#
# No accounting daemon: slurmdbd needs a MySQL/MariaDB server, a second daemon and a
# database for what submitit only uses as a status hint. submitit decides a job is finished
# from the result file the job writes (and squeue while it runs); its `sacct` poll fails with
# accounting disabled and it then relies on those files, which is exact on one machine where
# every job writes to the same disk. The sweep below checks each job's status.txt too.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${DTL_SLURM_DIR:-/tmp/dtl-slurm}"
DTL="${DTL:-$ROOT/.venv/bin/dtl}"
export SLURM_CONF="$DIR/slurm.conf"

say() { printf 'slurm_cluster: %s\n' "$*" >&2; }

install_packages() {
    if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
        && command -v sbatch >/dev/null && command -v munged >/dev/null; then
        return
    fi
    say "installing slurm-wlm and munge (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}

write_config() {
    local host cpus mem
    host="$(hostname -s)"
    cpus="$(nproc)"
    # Slurm refuses a node that reports less memory than configured: leave a margin.
    mem="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    cat >"$SLURM_CONF" <<EOF
# Written by dtl's scripts/slurm_cluster.sh: one node, root, no accounting.
ClusterName=dtl
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
MinJobAge=300
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=dtl Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return  # a munged is already answering on the default socket
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
    fi
    runuser -u munge -- munged
    echo started >"$DIR/munged.ours"
}

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

up() {
    install_packages
    write_config
    start_munge
    # -c: a fresh cluster each time (no jobs or node state left from an earlier run)
    running "$DIR/slurmctld.pid" || slurmctld -c
    running "$DIR/slurmd.pid" || slurmd
    local host
    host="$(hostname -s)"
    for _ in $(seq 60); do
        state="$(sinfo -h -n "$host" -o %t 2>/dev/null || true)"
        case "$state" in
            idle*|mix*|alloc*) say "node $host is $state (SLURM_CONF=$SLURM_CONF)"; return ;;
            down*|drain*) scontrol update nodename="$host" state=resume 2>/dev/null || true ;;
        esac
        sleep 1
    done
    say "the node did not come up; logs in $DIR/log"
    tail -n 20 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
    return 1
}

down() {
    if running "$DIR/slurmctld.pid"; then
        # Jobs first (a step still closing when slurmd goes would be left behind), then the
        # daemons, each waited for.
        scancel --full --quiet --partition=dtl 2>/dev/null || true
        for _ in $(seq 30); do
            [ -z "$(squeue -h -p dtl 2>/dev/null)" ] && break
            sleep 1
        done
    fi
    for daemon in slurmd slurmctld; do
        if running "$DIR/$daemon.pid"; then
            local pid
            pid="$(cat "$DIR/$daemon.pid")"
            kill "$pid"
            for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        fi
    done
    if [ -f "$DIR/munged.ours" ] && [ -s /run/munge/munged.pid ]; then
        kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
        rm -f "$DIR/munged.ours"
    fi
}

sweep() {
    local work out started
    work="$(mktemp -d "${TMPDIR:-/tmp}/dtl-slurm-sweep.XXXXXX")"
    out="$work/outputs"
    started=$(date +%s)
    say "2-job sweep through sbatch into $out"
    # Both jobs need the same pretrain entry: one builds it, the other waits on its lock.
    # submitit's failing sacct poll (see the top) warns at every poll: those lines are dropped.
    # `timeout` bounds the wait: a job killed without writing its result file (OOM, scancel)
    # is never seen as finished without accounting.
    (cd "$work" && DTL_STORE="$work/store" DTL_OUTPUT="$out" timeout 600 "$DTL" transfer -m \
        hydra/launcher=submitit_slurm hydra.launcher.timeout_min=10 \
        hydra.launcher.cpus_per_task=1 device=cpu mapping=linear,procrustes 2>&1) \
        | { grep -v -e 'Bypassing sacct error' -e 'accounting storage is disabled' >&2 || true; }
    local sweep_dir
    sweep_dir="$(find "$out/multirun" -mindepth 3 -maxdepth 3 -type d | head -n 1)"
    [ -n "$sweep_dir" ] || { say "no sweep folder under $out"; return 1; }
    ls "$sweep_dir"/.submitit/*/*_log.out >/dev/null  # the jobs really went through Slurm
    for job in 0 1; do
        grep -qx done "$sweep_dir/$job/status.txt" || { say "job $job: $(cat "$sweep_dir/$job/status.txt")"; return 1; }
    done
    "$DTL" report "$sweep_dir" | tee "$work/report.txt"
    grep -q "2 run(s), 2 configuration(s) — 2 done" "$work/report.txt"
    [ -s "$sweep_dir/report.csv" ] && [ -s "$sweep_dir/runs.csv" ]
    say "sweep and report passed in $(( $(date +%s) - started )) s"
    rm -rf "$work"
}

case "${1:-test}" in
    up) up ;;
    down) down ;;
    test)
        started=$(date +%s)
        trap down EXIT
        up
        say "cluster up in $(( $(date +%s) - started )) s"
        sweep
        ;;
    *) echo "usage: $0 [test|up|down]" >&2; exit 2 ;;
esac
