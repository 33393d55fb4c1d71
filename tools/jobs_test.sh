#!/usr/bin/env bash
# jobs_test.sh — tools/jobs.sh on machines and containers unlike this one,
# faked as a directory tree (JOBS_ROOT) and an nproc answer (JOBS_NPROC).
# Prints one line per failed case and a last line "jobs: N passed, M failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
n=0

# new_root: an empty machine with MEMINFO_GIB of available memory.
new_root() {
  n=$((n + 1))
  r=$tmp/$n
  mkdir -p "$r/proc/self" "$r/sys/fs/cgroup"
  echo "MemAvailable:   $(($1 * 1024 * 1024)) kB" > "$r/proc/meminfo"
  : > "$r/proc/self/cgroup"
}
put() { mkdir -p "$(dirname "$r/$1")" && printf '%s\n' "$2" > "$r/$1"; }
expect() {  # expect WHAT NPROC WANT
  local got
  got=$(JOBS_ROOT=$r JOBS_NPROC=$2 "$here/jobs.sh" 2>&1)
  if [ "$got" = "$3" ]; then passed=$((passed + 1))
  else failed=$((failed + 1)); echo "FAIL $1: got '$got', expected $3"; fi
}

new_root 64
expect "bare 2-core machine" 2 2
expect "bare 64-core machine" 64 64
expect "taskset -c 0 (nproc counts the mask)" 1 1

new_root 16
expect "64 cores, 16 GiB: one job per GiB" 64 16
new_root 1
put proc/meminfo "MemAvailable:     524288 kB"
expect "no memory to speak of: still one job" 8 1

# cgroup v2 in a container (cgroup namespace: "0::/").
new_root 64
put sys/fs/cgroup/cgroup.controllers "cpu memory"
put proc/self/cgroup "0::/"
put sys/fs/cgroup/cpu.max "max 100000"
put sys/fs/cgroup/memory.max "max"
expect "v2, no limits" 64 64
put sys/fs/cgroup/cpu.max "100000 100000"
expect "v2, docker --cpus=1 on 64 cores" 64 1
put sys/fs/cgroup/cpu.max "150000 100000"
expect "v2, --cpus=1.5 rounds up" 64 2
put sys/fs/cgroup/cpu.max "800000 100000"
expect "v2, a quota above nproc changes nothing" 4 4
put sys/fs/cgroup/cpu.max "max 100000"
put sys/fs/cgroup/memory.max "$((6 << 30))"
put sys/fs/cgroup/memory.current "$((1 << 30))"
expect "v2, --memory=6g with 1 GiB used" 64 5

# cgroup v2 without a namespace: the process's own cgroup, limited by an
# ancestor (a systemd slice), the leaf unlimited.
new_root 64
put sys/fs/cgroup/cgroup.controllers "cpu memory"
put proc/self/cgroup "0::/user.slice/job.scope"
put sys/fs/cgroup/user.slice/cpu.max "200000 100000"
put sys/fs/cgroup/user.slice/job.scope/cpu.max "max 100000"
put sys/fs/cgroup/user.slice/job.scope/memory.max "max"
expect "v2, quota on an ancestor" 64 2

# cgroup v1 (this VM's layout), quota on a docker container seen from inside
# without a namespace: /proc/self/cgroup names /docker/ID, mounted at the root.
new_root 64
put proc/self/cgroup "$(printf '%s\n' '4:memory:/docker/abc' '3:cpu,cpuacct:/docker/abc' '0::/')"
put sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us "-1"
put sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us "100000"
put sys/fs/cgroup/memory/memory.limit_in_bytes "9223372036854771712"
put sys/fs/cgroup/memory/memory.usage_in_bytes "1015803904"
expect "v1, no limits" 64 64
put sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us "200000"
expect "v1, --cpus=2" 64 2
put sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us "-1"
put sys/fs/cgroup/memory/memory.limit_in_bytes "$((3 << 30))"
put sys/fs/cgroup/memory/memory.usage_in_bytes "$((2 << 30))"
expect "v1, 3 GiB limit, 2 GiB used" 64 1
# The named cgroup exists under the mount: its own limit counts too.
put sys/fs/cgroup/memory/memory.limit_in_bytes "9223372036854771712"
put sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes "$((4 << 30))"
put sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes "0"
expect "v1, limit on the process's own cgroup" 64 4

# This machine, as it is: a number, at least 1, at most nproc.
got=$("$here/jobs.sh")
if [ "$got" -ge 1 ] && [ "$got" -le "$(nproc)" ] 2>/dev/null; then passed=$((passed + 1))
else failed=$((failed + 1)); echo "FAIL this machine: got '$got', nproc $(nproc)"; fi

echo "jobs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
