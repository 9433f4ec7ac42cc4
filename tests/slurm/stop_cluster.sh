#!/usr/bin/env bash
# Stops exactly the daemons start_cluster.sh started (their PID files under $STATE/started/), in
# the reverse order, and leaves every other process alone.
set -euo pipefail

STATE=${GPGCN_SLURM_STATE:-/var/lib/gpgcn-slurm}

for name in slurmd slurmctld slurmdbd mariadbd munged; do
    pidfile="$STATE/started/$name.pid"
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "stop_cluster: $name (pid $pid) ignored SIGTERM for 30 s; sending SIGKILL" >&2
            kill -KILL "$pid"
        fi
        echo "stop_cluster: stopped $name (pid $pid)" >&2
    fi
    rm -f "$pidfile"
done
