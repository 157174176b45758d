#!/usr/bin/env bash
# Install and start a real single-node SLURM cluster on this (Debian 12) host, as root.
#
# Why: the suite promises `snakemake --profile slurm all`; the only honest test of that promise is
# real sbatch/squeue against a real slurmctld + slurmd.  This script gives CI and developers one:
#   * one node = this host, with the CPUs and memory `slurmd -C` reports;
#   * one partition `main` (default);
#   * a fake GPU (gres.conf `Name=gpu File=/dev/null`) so `--gpus=1` / `--gres=gpu:1` requests are
#     scheduled exactly as on a GPU cluster, without a GPU;
#   * no accounting daemon (slurmdbd): job status comes from squeue, so MinJobAge is raised to keep
#     finished jobs visible long enough for Snakemake's status checks.
# Idempotent: re-running rewrites the same config, keeps the munge key, restarts daemons only when
# the config changed or a daemon is not running, and returns once `sinfo` reports the node idle.
set -euo pipefail

[[ $(id -u) -eq 0 ]] || { echo "setup.sh: must run as root (installs packages, starts daemons)" >&2; exit 1; }

SLURM_DIR=/etc/slurm
PARTITION=${SLURM_PARTITION:-main}
WAIT_SECONDS=${SLURM_WAIT_SECONDS:-60}

# --- packages -------------------------------------------------------------------------------
need=()
for pkg in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "setup.sh: installing ${need[*]}"
  apt-get update -qq
  # policy-rc.d in containers forbids starting services from postinst; we start them below.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# --- munge ----------------------------------------------------------------------------------
if [[ ! -s /etc/munge/munge.key ]]; then
  # 1024 random bytes, the size mungekey(8) creates by default.
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --force
  for _ in $(seq 20); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
fi
munge -n </dev/null | unmunge >/dev/null || { echo "setup.sh: munged is not answering" >&2; exit 1; }

# --- config ---------------------------------------------------------------------------------
host=$(hostname -s)
# `slurmd -C` prints this host's real topology, e.g.
#   NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
node_line=$(slurmd -C | head -n1)
real_mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
# Leave 5 % for the OS and the daemons so slurmd never registers with less than configured
# (which would drain the node with "Low RealMemory").
node_line=${node_line/RealMemory=$real_mem/RealMemory=$((real_mem * 95 / 100))}

install -d -m 0755 "$SLURM_DIR"
install -d -o slurm -g slurm -m 0755 /var/spool/slurmctld /var/log/slurm
install -d -m 0755 /var/spool/slurmd /run/slurm
chown slurm:slurm /var/log/slurm

new_conf=$(cat <<CONF
# Written by workflow/slurm/setup.sh (sinkprune): single-node test cluster.
ClusterName=sinkprune
# Loopback addresses: the single node needs no DNS entry for its own name.
SlurmctldHost=${host}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
# No cgroup hierarchy is guaranteed inside containers: track processes by /proc instead.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No slurmdbd: squeue is the status source, so keep finished jobs visible for 10 minutes.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
${node_line} NodeAddr=127.0.0.1 Gres=gpu:1 State=UNKNOWN
PartitionName=${PARTITION} Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
)
new_gres="# Written by workflow/slurm/setup.sh: a fake GPU so --gpus/--gres requests are exercised.
Name=gpu File=/dev/null"

changed=0
if [[ "$(cat "$SLURM_DIR/slurm.conf" 2>/dev/null)" != "$new_conf" ]]; then
  printf '%s\n' "$new_conf" >"$SLURM_DIR/slurm.conf"; changed=1
fi
if [[ "$(cat "$SLURM_DIR/gres.conf" 2>/dev/null)" != "$new_gres" ]]; then
  printf '%s\n' "$new_gres" >"$SLURM_DIR/gres.conf"; changed=1
fi
chmod 0644 "$SLURM_DIR/slurm.conf" "$SLURM_DIR/gres.conf"

# --- daemons --------------------------------------------------------------------------------
running() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
stop() { if running "$1"; then kill "$(cat "$1")"; for _ in $(seq 20); do running "$1" || break; sleep 0.5; done; fi; }

if ((changed)); then
  stop /run/slurm/slurmd.pid
  stop /run/slurm/slurmctld.pid
fi
running /run/slurm/slurmctld.pid || /usr/sbin/slurmctld
running /run/slurm/slurmd.pid || /usr/sbin/slurmd

# --- wait for the node ----------------------------------------------------------------------
deadline=$((SECONDS + WAIT_SECONDS))
state=""
while ((SECONDS < deadline)); do
  state=$(sinfo -h -n "$host" -o '%T' 2>/dev/null | head -n1 || true)
  case "$state" in
    idle|mixed|allocated) break ;;
    # A node that was down (e.g. the previous daemon died) comes back once slurmd answers.
    down*|drain*|drained*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;;
  esac
  sleep 1
done
case "$state" in
  idle|mixed|allocated) ;;
  *) echo "setup.sh: node $host is '${state:-unknown}' after ${WAIT_SECONDS}s; see /var/log/slurm/" >&2
     tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
     exit 1 ;;
esac
sinfo -N -o '%N %P %T %c %m %G'
echo "setup.sh: SLURM ready (node $host, partition $PARTITION, state $state)"
