#!/usr/bin/env bash
# jobs.sh — prints JOBS, how many jobs `make test` runs at once (the -j of
# each part's make, the misuse runner's parallel programs). nproc alone is
# right on a bare machine and under taskset or a container's cpuset (it
# counts the affinity mask), but not in a container given a CPU quota
# (docker --cpus=1, a Kubernetes CPU limit: the cgroup's cpu.max, or
# cpu.cfs_quota_us in cgroup v1), where nproc counts every CPU of the host;
# on a 64-core host that was -j64 in a one-CPU container, with the memory
# of 64 compilers (an ASan build of one unit test file peaks at 0.8 GiB).
# So: the least of
#   - nproc (the CPUs this process may run on),
#   - the CPU quota of its cgroup or of any ancestor, rounded up,
#   - the memory available (MemAvailable, and the room under a cgroup
#     memory limit of its own or an ancestor's) at one GiB per job,
# and at least 1. A cgroup the process's /proc/self/cgroup names but that
# is not mounted where expected (a container without a cgroup namespace)
# is read at the mount's root instead.
#
# For tests (tools/jobs_test.sh): JOBS_ROOT stands in for / (its proc/ and
# sys/fs/cgroup/), JOBS_NPROC for nproc's answer.
set -u
root=${JOBS_ROOT:-}
cg=$root/sys/fs/cgroup
gib=$((1 << 30))

cpus=${JOBS_NPROC:-$(nproc 2>/dev/null || echo 1)}
kib=$(awk '/^MemAvailable:/ {print $2; exit}' "$root/proc/meminfo" 2>/dev/null)
mem=$((${kib:-0} > 0 ? ${kib:-0} * 1024 : 1 << 62))

lower_cpus() { [ "$1" -lt "$cpus" ] && cpus=$1; }
lower_mem() { [ "$1" -lt "$mem" ] && mem=$1; }
# CPU quota: QUOTA PERIOD in microseconds, QUOTA "max" or negative for none.
quota() {
  case ${1:-} in '' | max | -*) return ;; esac
  [ "${2:-0}" -gt 0 ] || return
  local n=$((($1 + $2 - 1) / $2))
  lower_cpus $((n < 1 ? 1 : n))
}
# Memory limit and usage in bytes; "max" (v2) or a huge value (v1) for none.
room() {
  case ${1:-} in '' | max) return ;; esac
  [ "$1" -lt $((1 << 60)) ] || return
  local used=${2:-0}
  lower_mem $(($1 > used ? $1 - used : 0))
}
# Each directory from DIR's cgroup up to the mount's root, the root last.
ancestors() {
  local base=$1 path=${2%/}
  while [ -n "$path" ]; do
    if [ -d "$base$path" ]; then echo "$base$path"; fi
    path=${path%/*}
  done
  echo "$base"
}
readf() { cat "$1" 2>/dev/null || true; }
# A cgroup v1 controller's directories, this process's cgroup and its
# ancestors, under its mount ($controllers, or the plain name a mount may use).
v1_dirs() {
  for m in "$cg/$controllers" "$cg/$1"; do
    [ -d "$m" ] || continue
    ancestors "$m" "$path"
    return
  done
}

while IFS=: read -r _ controllers path; do
  if [ -z "$controllers" ]; then  # cgroup v2, mounted at sys/fs/cgroup
    [ -e "$cg/cgroup.controllers" ] || continue
    for d in $(ancestors "$cg" "$path"); do
      quota $(readf "$d/cpu.max")
      room "$(readf "$d/memory.max")" "$(readf "$d/memory.current")"
    done
  else  # cgroup v1: one mount per controller list
    case ,$controllers, in
      *,cpu,*)
        for d in $(v1_dirs cpu); do
          quota "$(readf "$d/cpu.cfs_quota_us")" "$(readf "$d/cpu.cfs_period_us")"
        done ;;
      *,memory,*)
        for d in $(v1_dirs memory); do
          room "$(readf "$d/memory.limit_in_bytes")" "$(readf "$d/memory.usage_in_bytes")"
        done ;;
    esac
  fi
done < <(readf "$root/proc/self/cgroup")

by_mem=$((mem / gib))
jobs=$((cpus < by_mem ? cpus : by_mem))
echo $((jobs < 1 ? 1 : jobs))
