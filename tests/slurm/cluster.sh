#!/usr/bin/env bash
# A real one-node SLURM cluster on 127.0.0.1, for the tests marked `slurm`: Debian's slurmctld, slurmd
# and slurmdbd (accounting on MariaDB, so `sacct` works as on a site's cluster), with munge auth and a
# fake GPU GRES (two device nodes), sized to this machine's cores and memory.
#
#   tests/slurm/cluster.sh install   apt packages (needs root or sudo)
#   tests/slurm/cluster.sh start     start what is not running yet; idempotent
#   tests/slurm/cluster.sh stop      cancel its jobs, stop the daemons this script started, nothing else
#   tests/slurm/cluster.sh status    which of its daemons run; exit 1 unless all do
#   tests/slurm/cluster.sh logs      the tail of every daemon's log (shown when a cluster test fails)
#   tests/slurm/cluster.sh env       the line to eval so sbatch, sacct, ... talk to this cluster
#
# Everything lives in $SNAKESWEEP_SLURM_DIR (default /tmp/snakesweep-slurm-$UID): its own config, munge
# key and socket, database, spool, logs and pid files, on ports from $SNAKESWEEP_SLURM_PORT (16817 up),
# so a site's SLURM or munge on the same machine is neither used nor touched. Clients find the cluster
# through SLURM_CONF. The daemons run in the foreground under setsid: apt cannot start services here
# (policy-rc.d), there is no systemd, and the pid we record is then the daemon's own.
set -euo pipefail

STATE=${SNAKESWEEP_SLURM_DIR:-/tmp/snakesweep-slurm-$(id -u)}
PORT=${SNAKESWEEP_SLURM_PORT:-16817}
CTLD_PORT=$PORT DAEMON_PORT=$((PORT + 1)) DBD_PORT=$((PORT + 2)) SQL_PORT=$((PORT + 3))
CLUSTER=snakesweep ACCOUNT=snakesweep PARTITION=debug NODE=node1 GPUS=2
PACKAGES=(slurmctld slurmd slurmdbd slurm-client munge mariadb-server mariadb-client)
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)
export SLURM_CONF=$STATE/etc/slurm.conf

log() { echo "cluster.sh: $*" >&2; }

pid_of() { # the recorded pid of daemon $1, if that process still runs that program
  local file=$STATE/pid/$1 pid
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ -r /proc/$pid/comm ]] && [[ $(</proc/"$pid"/comm) == "$1" ]] && [[ $(awk '{print $3}' /proc/"$pid"/stat) != Z ]] \
    && echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

wait_for() { # seconds, daemon, command...: poll until the command succeeds, while the daemon lives
  local seconds=$1 name=$2 i
  shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if ! running "$name"; then
      log "$name exited during start-up"
      show_logs
      return 1
    fi
    sleep 0.2
  done
  log "$name did not come up within ${seconds}s"
  show_logs
  return 1
}

launch() { # name, command...: run a foreground daemon detached, record its pid
  local name=$1
  shift
  running "$name" && return 0
  setsid "$@" >>"$STATE/log/$name.out" 2>&1 </dev/null 9>&- & # 9: start's lock, not the daemon's
  echo $! >"$STATE/pid/$name"
  log "started $name (pid $!)"
}

install() {
  if command -v slurmctld >/dev/null && command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null \
    && command -v munged >/dev/null; then
    return 0
  fi
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  # policy-rc.d refuses to start the services at install time; that is expected, start() runs them.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
    >/dev/null
}

write_config() {
  local host node_hw sql=$STATE/mysql
  host=$(hostname -s)
  # The node's real cores, sockets and memory, as slurmd itself sees them.
  node_hw=$(slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')
  mkdir -p "$STATE"/{etc,munge,spool/ctld,spool/d,log,pid,run,dev}
  chmod 755 "$STATE/munge" # munged: clients need to reach the socket; the key itself is 600
  cat >"$STATE/etc/slurm.conf" <<EOF
# Written by tests/slurm/cluster.sh: a one-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$DAEMON_PORT
SlurmUser=$(id -un)
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
# No cgroups in a container: track processes by parentage, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# Memory is a consumable: without it every job takes the whole node and jobs run one at a time.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# For the slurmdbd plugin this names the munge socket of its connections (AuthInfo covers the rest).
AccountingStoragePass=$STATE/munge/munge.socket
AccountingStorageTRES=gres/gpu
# sacct shows the Snakemake plugin's --comment (rule_<name>), so tests can tell the jobs apart.
AccountingStoreFlags=job_comment
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
JobCompType=jobcomp/none
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmdParameters=config_overrides
NodeName=$NODE NodeHostname=$host NodeAddr=127.0.0.1 $node_hw Gres=gpu:$GPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  # A fake GPU is a device node nobody opens: SLURM schedules it and sets CUDA_VISIBLE_DEVICES to its index.
  local i
  for ((i = 0; i < GPUS; i++)); do
    [[ -e $STATE/dev/fakegpu$i ]] || mknod "$STATE/dev/fakegpu$i" c 1 3
  done
  echo "NodeName=$NODE Name=gpu File=$STATE/dev/fakegpu[0-$((GPUS - 1))]" >"$STATE/etc/gres.conf"
  cat >"$STATE/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=$DBD_PORT
SlurmUser=$(id -un)
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$SQL_PORT
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$STATE/etc/slurmdbd.conf"
  [[ -s $STATE/munge/munge.key ]] || mungekey --create --keyfile="$STATE/munge/munge.key"
  chmod 600 "$STATE/munge/munge.key"
  if [[ ! -d $sql/mysql ]]; then
    mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$sql" --auth-root-authentication-method=socket \
      --skip-test-db >"$STATE/log/mariadb-install.out" 2>&1 || { cat "$STATE/log/mariadb-install.out" >&2; return 1; }
  fi
}

munge_works() { timeout 5 munge -n -S "$STATE/munge/munge.socket" | timeout 5 unmunge -S "$STATE/munge/munge.socket"; }

sql() { timeout 10 mariadb --no-defaults --socket="$STATE/run/mysql.sock" -u "$(id -un)" "$@"; }

sacctmgr_add() { # idempotent: sacctmgr exits 1 when there is nothing new to add
  local out
  out=$(sacctmgr -i add "$@" 2>&1) || [[ $out == *"Nothing new added"* || $out == *"already exists"* ]] \
    || { log "sacctmgr add $*: $out"; return 1; }
}

start() {
  install_check
  if [[ $(id -u) != 0 ]]; then
    # slurmd runs jobs as root here, the fake GPUs are device nodes, and /etc/slurm/slurm.conf is linked.
    log "start needs root"
    exit 2
  fi
  mkdir -p "$STATE"
  exec 9>"$STATE/start.lock"
  flock 9 # two starts at once (two test sessions) would launch every daemon twice
  if status >/dev/null 2>&1; then
    log "already running ($STATE)"
    return 0
  fi
  write_config
  running munged || rm -f "$STATE/munge/munge.socket" # a killed munged leaves its socket behind
  launch munged munged -F --force --socket="$STATE/munge/munge.socket" --key-file="$STATE/munge/munge.key" \
    --pid-file="$STATE/run/munged.pid" --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/munged.seed"
  wait_for 30 munged munge_works
  launch mariadbd mariadbd --no-defaults --user="$(id -un)" --datadir="$STATE/mysql" \
    --socket="$STATE/run/mysql.sock" --port="$SQL_PORT" --bind-address=127.0.0.1 --pid-file="$STATE/run/mysql.pid" \
    --log-error="$STATE/log/mariadb.log" --innodb-lock-wait-timeout=900 --skip-log-bin
  wait_for 60 mariadbd sql -e "select 1"
  sql -e "CREATE USER IF NOT EXISTS 'slurm'@'%' IDENTIFIED BY 'slurm';
          GRANT ALL ON slurm_acct_db.* TO 'slurm'@'%'; FLUSH PRIVILEGES;"
  launch slurmdbd slurmdbd -D
  wait_for 60 slurmdbd timeout 10 sacctmgr -n show cluster
  sacctmgr_add cluster "$CLUSTER"
  sacctmgr_add account "$ACCOUNT" Description=tests Organization=snakesweep
  sacctmgr_add user "$(id -un)" Account="$ACCOUNT" DefaultAccount="$ACCOUNT"
  link_default_config
  launch slurmctld slurmctld -D
  wait_for 60 slurmctld timeout 10 scontrol ping
  launch slurmd slurmd -D -N "$NODE"
  wait_for 60 slurmd node_idle
  log "running: SLURM_CONF=$SLURM_CONF, partition $PARTITION, account $ACCOUNT, $GPUS fake GPUs"
}

# The Snakemake job inside an allocation starts its rule with a nested srun, and the slurm-jobstep plugin
# (0.6.1) strips every SLURM_* variable but a few from srun's environment, SLURM_CONF included: srun then
# reads the default /etc/slurm/slurm.conf. So that path must lead here too. It is linked only when free,
# and removed by stop only if this script made it; a machine with its own SLURM config cannot host this.
DEFAULT_CONF=/etc/slurm/slurm.conf
link_default_config() {
  if [[ -L $DEFAULT_CONF && $(readlink "$DEFAULT_CONF") == "$SLURM_CONF" ]]; then
    return 0
  fi
  if [[ -e $DEFAULT_CONF || -L $DEFAULT_CONF ]]; then
    log "$DEFAULT_CONF exists and is not ours: jobs' nested srun would use that cluster; not starting"
    return 1
  fi
  mkdir -p "$(dirname "$DEFAULT_CONF")"
  ln -s "$SLURM_CONF" "$DEFAULT_CONF"
  touch "$STATE/pid/linked-default-config"
}

unlink_default_config() {
  if [[ -e $STATE/pid/linked-default-config ]] && [[ $(readlink "$DEFAULT_CONF") == "$SLURM_CONF" ]]; then
    rm -f "$DEFAULT_CONF"
  fi
  rm -f "$STATE/pid/linked-default-config"
}

node_idle() { [[ $(timeout 10 sinfo -h -n "$NODE" -o %T) == idle* ]]; }

install_check() {
  local missing=()
  for cmd in slurmctld slurmd slurmdbd sbatch sacct sacctmgr scontrol sinfo squeue scancel munged munge unmunge \
    mungekey mariadbd mariadb mariadb-install-db; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
  done
  if ((${#missing[@]})); then
    log "missing ${missing[*]}: run tests/slurm/cluster.sh install"
    exit 2
  fi
}

stop() {
  local name pid i j
  if running slurmctld; then
    # Its jobs end before slurmd does: slurmstepd outlives slurmd by design, and slurmctld would bring
    # orphaned jobs back on the next start.
    scancel -u "$(id -un)" 2>/dev/null || true
    for ((j = 0; j < 300; j++)); do
      [[ -z $(timeout 10 squeue -h -u "$(id -un)" 2>/dev/null) ]] && break
      sleep 0.1
    done
  fi
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    name=${DAEMONS[i]}
    pid=$(pid_of "$name") || { rm -f "$STATE/pid/$name"; continue; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((j = 0; j < 100; j++)); do running "$name" || break; sleep 0.1; done
    if running "$name"; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$STATE/pid/$name"
    log "stopped $name (pid $pid)"
  done
  unlink_default_config
}

status() {
  local name pid ok=0
  for name in "${DAEMONS[@]}"; do
    if pid=$(pid_of "$name"); then echo "$name: running (pid $pid)"; else echo "$name: stopped"; ok=1; fi
  done
  return $ok
}

show_logs() {
  local f
  for f in "$STATE"/log/*; do
    [[ -s $f ]] || continue
    echo "===== $f (last 40 lines)"
    tail -n 40 "$f"
  done
}

case ${1:-} in
install) install ;;
start) start ;;
stop) stop ;;
status) status ;;
logs) show_logs ;;
env) echo "export SLURM_CONF=$SLURM_CONF" ;;
*)
  sed -n '2,12p' "$0" >&2
  exit 2
  ;;
esac
