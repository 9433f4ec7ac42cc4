#!/usr/bin/env bash
# A single-node SLURM cluster on localhost for `pytest -m slurm`: munge, MariaDB + slurmdbd (the
# executor plugin asks sacct for job states, and sacct needs accounting), slurmctld and slurmd,
# started as root without systemd. Idempotent: a daemon already running is left alone, and only
# the daemons this script starts get a PID file under $STATE/started/, which stop_cluster.sh reads.
# The node advertises two fake GPUs (character devices) so GPU requests can be scheduled.
set -euo pipefail

STATE=${GPGCN_SLURM_STATE:-/var/lib/gpgcn-slurm}
CLUSTER=gpgcn
NODE=$(hostname -s)

[ "$(id -u)" = 0 ] || { echo "start_cluster.sh: must run as root" >&2; exit 1; }

log() { echo "start_cluster: $*" >&2; }

install_packages() {
    local missing=()
    for cmd in slurmctld:slurmctld slurmd:slurmd slurmdbd:slurmdbd munged:munge mariadbd:mariadb-server sbatch:slurm-client; do
        command -v "${cmd%%:*}" >/dev/null || missing+=("${cmd#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        # A daemon that a package's install script starts itself is found running below and left alone.
        apt-get install -y -q --no-install-recommends slurm-wlm slurmdbd munge mariadb-server >/dev/null
    fi
}

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    for _ in $(seq $((seconds * 5))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    log "timed out after ${seconds}s waiting for $what"
    return 1
}

# start NAME PIDFILE COMMAND...: run a daemon that writes PIDFILE, unless one is already alive.
start() {
    local name=$1 pidfile=$2
    shift 2
    if alive "$pidfile"; then
        log "$name already running (pid $(cat "$pidfile"))"
        return 0
    fi
    "$@"
    wait_for 30 "$name's PID file $pidfile" alive "$pidfile"
    cp "$pidfile" "$STATE/started/$name.pid"
    log "$name started (pid $(cat "$pidfile"))"
}

write_configs() {
    mkdir -p /etc/slurm "$STATE"/{run,log,ctld,spool,dev}
    local node_line
    # CPUs, sockets, cores and memory as slurmd itself sees them; RealMemory a little under the
    # total so the node is never drained for "Low RealMemory".
    node_line=$(slurmd -C | head -n1 | sed -E 's/^NodeName=[^ ]+ //')
    local memory
    memory=$(sed -nE 's/.*RealMemory=([0-9]+).*/\1/p' <<<"$node_line")
    node_line=$(sed -E "s/RealMemory=[0-9]+/RealMemory=$((memory * 9 / 10))/" <<<"$node_line")
    for i in 0 1; do
        [ -c "$STATE/dev/gpu$i" ] || mknod "$STATE/dev/gpu$i" c 195 "$i"
    done
    cat >/etc/slurm/slurm.conf <<EOF
# Written by gpgcn's tests/slurm/start_cluster.sh: a single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
# sacct shows each job's comment, where the executor plugin names the rule.
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=300
KillWait=5
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 $node_line Gres=gpu:2 State=UNKNOWN
# The partition names profiles/slurm/config.yaml ships with, both on this one node.
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF
    cat >/etc/slurm/gres.conf <<EOF
NodeName=$NODE Name=gpu File=$STATE/dev/gpu[0-1]
EOF
    cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$STATE/run/slurmdbd.pid
LogFile=$STATE/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=gpgcn-test
StorageLoc=slurm_acct_db
EOF
    chmod 600 /etc/slurm/slurmdbd.conf
}

start_munge() {
    [ -s /etc/munge/munge.key ] || { mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null || dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none; }
    chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    mkdir -p /run/munge /var/log/munge /var/lib/munge && chown munge:munge /run/munge /var/log/munge /var/lib/munge
    start munged /run/munge/munged.pid runuser -u munge -- /usr/sbin/munged
}

start_mariadb() {
    mkdir -p /run/mysqld "$STATE/mysql" && chown mysql:mysql /run/mysqld "$STATE/mysql"
    [ -d /var/lib/mysql/mysql ] || mysql_install_db --user=mysql --datadir=/var/lib/mysql >/dev/null
    if mariadb-admin --socket=/run/mysqld/mysqld.sock ping >/dev/null 2>&1; then
        log "MariaDB already answering on /run/mysqld/mysqld.sock"
    else
        if ! alive "$STATE/mysql/mariadbd.pid"; then
            # mariadbd stays in the foreground: run it in the background with its own log.
            setsid /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
            --skip-networking --pid-file="$STATE/mysql/mariadbd.pid" >>"$STATE/log/mariadbd.log" 2>&1 </dev/null &
        fi
        start mariadbd "$STATE/mysql/mariadbd.pid" true
    fi
    wait_for 60 "MariaDB to answer" mariadb-admin --socket=/run/mysqld/mysqld.sock ping
    mariadb --socket=/run/mysqld/mysqld.sock <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'gpgcn-test';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

main() {
    install_packages
    mkdir -p "$STATE/started"
    write_configs
    start_munge
    start_mariadb
    start slurmdbd "$STATE/run/slurmdbd.pid" /usr/sbin/slurmdbd
    wait_for 60 "slurmdbd to answer" sacctmgr -n list cluster
    sacctmgr -n list cluster format=cluster | grep -qw "$CLUSTER" || sacctmgr -i add cluster "$CLUSTER" >/dev/null
    if alive "$STATE/run/slurmctld.pid"; then
        scontrol reconfigure  # a running controller picks up the configuration written above
    fi
    start slurmctld "$STATE/run/slurmctld.pid" /usr/sbin/slurmctld
    start slurmd "$STATE/run/slurmd.pid" /usr/sbin/slurmd
    wait_for 60 "node $NODE to be idle" bash -c "sinfo -h -n $NODE -o %t | grep -qx idle"
    log "cluster $CLUSTER up: $(sinfo -h -o '%P %D %t %c CPUs %G')"
}

main "$@"
