#!/usr/bin/env bash
# run-qemu.sh — boot the kernel once in QEMU and judge the run.
#
#   run-qemu.sh -k KERNEL.elf32|IMAGE.iso -c CMDLINE -l LOG -t SECONDS -e pass|fail|fatal|run
#               [-f FAILING_CASE|REGEX] [-n NAME] [-v] -- [extra qemu arguments]
#
# Serial output goes to LOG (and to the terminal with -v). Verdicts:
#   pass: QEMU exit code 33 (the kernel wrote 0x10 to isa-debug-exit) AND the
#         last line on serial is "N passed, 0 failed" with N > 0;
#   fail: exit code 35 AND the last line is "N passed, M failed" with M > 0
#         AND the log holds "[FAIL] FAILING_CASE" (the failure is the one meant);
#   fatal: exit code 37 (a fatal error or CPU exception ended the run) AND the
#         log matches the extended regex given with -f;
#   run:  exit code 33 (the `run` report finished).
# A triple fault ends QEMU with status 0 under -no-reboot, and a hang ends in
# the timeout: neither can pass.
set -uo pipefail

kernel= cmdline= log= timeout_s=120 expect=pass failing_case= name= verbose=0
while getopts "k:c:l:t:e:f:n:v" opt; do
  case $opt in
    k) kernel=$OPTARG ;; c) cmdline=$OPTARG ;; l) log=$OPTARG ;; t) timeout_s=$OPTARG ;;
    e) expect=$OPTARG ;; f) failing_case=$OPTARG ;; n) name=$OPTARG ;; v) verbose=1 ;;
    *) echo "usage: see $0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
: "${name:=$(basename "$log" .log)}"
if [ -z "$kernel" ] || [ -z "$log" ]; then echo "run-qemu.sh: -k and -l are required" >&2; exit 2; fi

qemu=(qemu-system-x86_64 -accel tcg -display none -serial stdio -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=0x04)
case $kernel in
  # A GRUB image: the command line and modules are in its grub.cfg.
  *.iso) qemu+=(-cdrom "$kernel" -boot d "$@") ;;
  *)     qemu+=(-kernel "$kernel" -append "$cmdline" "$@") ;;
esac
printf '# %s\n' "${qemu[*]}" > "$log"
start=$(date +%s)
if [ "$verbose" = 1 ]; then
  timeout -k 5 "$timeout_s" "${qemu[@]}" < /dev/null 2>&1 | sed -u 's/\r$//' | tee -a "$log"
  rc=${PIPESTATUS[0]}
else
  timeout -k 5 "$timeout_s" "${qemu[@]}" < /dev/null 2>&1 | tr -d '\r' >> "$log"
  rc=${PIPESTATUS[0]}
fi
elapsed=$(( $(date +%s) - start ))

# The last non-empty line printed by the kernel.
last=$(grep -v '^#' "$log" | grep -v '^[[:space:]]*$' | tail -n 1)
verdict=FAIL reason=
summary_re='^([0-9]+) passed, ([0-9]+) failed$'
case $expect in
  pass)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then reason="timed out after ${timeout_s}s"
    elif [ "$rc" != 33 ]; then reason="QEMU exit code $rc, expected 33"
    elif ! [[ $last =~ $summary_re ]]; then reason="last line is not a summary: '$last'"
    elif [ "${BASH_REMATCH[2]}" != 0 ]; then reason="failures in the summary: '$last'"
    elif [ "${BASH_REMATCH[1]}" = 0 ]; then reason="no test ran: '$last'"
    else verdict=PASS; fi ;;
  fail)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then reason="timed out after ${timeout_s}s"
    elif [ "$rc" != 35 ]; then reason="QEMU exit code $rc, expected 35 (tests failed)"
    elif ! [[ $last =~ $summary_re ]]; then reason="last line is not a summary: '$last'"
    elif [ "${BASH_REMATCH[2]}" = 0 ]; then reason="the run was meant to fail but says '$last'"
    elif [ -n "$failing_case" ] && ! grep -q "^\[FAIL\] $failing_case" "$log"; then
      reason="the failing case '$failing_case' is not named in the log"
    else verdict=PASS; fi ;;
  fatal)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then reason="timed out after ${timeout_s}s"
    elif [ "$rc" != 37 ]; then reason="QEMU exit code $rc, expected 37 (fatal)"
    elif [ -z "$failing_case" ] || ! grep -Eq "$failing_case" "$log"; then
      reason="the log does not match '$failing_case'"
    else verdict=PASS; fi ;;
  run)
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then reason="timed out after ${timeout_s}s"
    elif [ "$rc" != 33 ]; then reason="QEMU exit code $rc, expected 33"
    else verdict=PASS; fi ;;
  *) echo "run-qemu.sh: unknown expectation '$expect'" >&2; exit 2 ;;
esac

if [ "$verdict" = PASS ]; then
  case $expect in
    pass) echo "==== kernel boot $name: PASS ($last; exit $rc; ${elapsed}s; log $log)" ;;
    fail) echo "==== kernel boot $name: PASS (failed as intended, naming $failing_case: $last; exit $rc; ${elapsed}s)" ;;
    fatal) echo "==== kernel boot $name: PASS (ended as intended by '$failing_case'; exit $rc; ${elapsed}s)" ;;
    run)  echo "==== kernel run: finished (exit $rc; ${elapsed}s; log $log)" ;;
  esac
  exit 0
fi
echo "==== kernel boot $name: FAIL: $reason (log $log); its last lines:" >&2
grep -v '^#' "$log" | tail -n 25 >&2
exit 1
