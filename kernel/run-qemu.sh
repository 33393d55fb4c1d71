#!/usr/bin/env bash
# run-qemu.sh — boot the kernel once in QEMU and judge the run.
#
#   run-qemu.sh -k KERNEL.elf32|IMAGE.iso -c CMDLINE -l LOG -t SECONDS -e pass|fail|fatal|run
#               [-f FAILING_CASE|REGEX] [-x LINE] [-i MODULE] [-F bios|uefi] [-n NAME] [-v]
#               -- [extra qemu arguments]
#
#   -e KIND[ DETAIL]  the expectation; "fail CASE" and "fatal REGEX" carry what
#                     -f would give (the boot table in kernel.mk uses this form)
#   -x LINE           also required, whatever the verdict: a serial line exactly LINE
#   -i MODULE         load MODULE with -initrd, "crc=C len=L" (cksum) on its command line
#   -F uefi           boot under OVMF (UEFI) instead of SeaBIOS: $OVMF_FD (-bios) or
#                     $OVMF_CODE + $OVMF_VARS (pflash) if set, else Debian's OVMF.fd,
#                     else a /usr/share/OVMF/OVMF_CODE[_4M].fd + OVMF_VARS pair
#
# Serial output goes to LOG (and to the terminal with -v, less the pfmap dump lines). Verdicts:
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
extra_line= module= firmware=bios
while getopts "k:c:l:t:e:f:x:i:F:n:v" opt; do
  case $opt in
    k) kernel=$OPTARG ;; c) cmdline=$OPTARG ;; l) log=$OPTARG ;; t) timeout_s=$OPTARG ;;
    e) expect=${OPTARG%% *}
       [ "$expect" != "$OPTARG" ] && [ -z "$failing_case" ] && failing_case=${OPTARG#* } ;;
    f) failing_case=$OPTARG ;; x) extra_line=$OPTARG ;; i) module=$OPTARG ;;
    F) firmware=$OPTARG ;; n) name=$OPTARG ;; v) verbose=1 ;;
    *) echo "usage: see $0" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
: "${name:=$(basename "$log" .log)}"
if [ -z "$kernel" ] || [ -z "$log" ]; then echo "run-qemu.sh: -k and -l are required" >&2; exit 2; fi

qemu=(qemu-system-x86_64 -accel tcg -display none -serial stdio -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=0x04)
case $firmware in
  bios) ;;
  uefi)
    # Debian 12's ovmf ships both a combined image (-bios) and CODE/VARS
    # pairs (pflash); later releases may keep only the pairs.
    fd=${OVMF_FD:-} code=${OVMF_CODE:-} vars=${OVMF_VARS:-}
    if [ -z "$fd" ] && [ -z "$code" ]; then
      for f in /usr/share/ovmf/OVMF.fd /usr/share/OVMF/OVMF.fd /usr/share/qemu/OVMF.fd; do
        [ -r "$f" ] && { fd=$f; break; }
      done
    fi
    if [ -z "$fd" ] && [ -z "$code" ]; then
      for suffix in _4M ''; do
        if [ -r "/usr/share/OVMF/OVMF_CODE$suffix.fd" ] && [ -r "/usr/share/OVMF/OVMF_VARS$suffix.fd" ]; then
          code=/usr/share/OVMF/OVMF_CODE$suffix.fd vars=/usr/share/OVMF/OVMF_VARS$suffix.fd; break
        fi
      done
    fi
    if [ -n "$fd" ]; then
      qemu+=(-bios "$fd")
    else
      if [ -z "$code" ] || [ -z "$vars" ]; then echo "run-qemu.sh: no OVMF firmware found (Debian package ovmf)" >&2; exit 2; fi
      cp "$vars" "$log.vars.fd"  # the variable store is written: a private copy
      qemu+=(-drive "if=pflash,format=raw,readonly=on,file=$code"
             -drive "if=pflash,format=raw,file=$log.vars.fd")
    fi ;;
  *) echo "run-qemu.sh: unknown firmware '$firmware'" >&2; exit 2 ;;
esac
case $kernel in
  # A GRUB image: the command line and modules are in its grub.cfg.
  *.iso) qemu+=(-cdrom "$kernel" -boot d) ;;
  *)     qemu+=(-kernel "$kernel" -append "$cmdline") ;;
esac
if [ -n "$module" ]; then
  # The module's expected CRC and length travel on its own command line; the
  # kernel checks the bytes at boot and again after the tests.
  read -r crc len _ < <(cksum < "$module")
  qemu+=(-initrd "$module crc=$crc len=$len")
fi
qemu+=("$@")
printf '# %s\n' "${qemu[*]}" > "$log"
start=$(date +%s%N)
if [ "$verbose" = 1 ]; then
  # The machine-readable memory dumps (pfmap lines, thousands on a big
  # machine) go to the log and the picture, not to the terminal.
  timeout -k 5 "$timeout_s" "${qemu[@]}" < /dev/null 2>&1 | sed -u 's/\r$//' | tee -a "$log" |
    { grep --line-buffered -v '^pfmap ' || true; }
  rc=${PIPESTATUS[0]}
else
  timeout -k 5 "$timeout_s" "${qemu[@]}" < /dev/null 2>&1 | tr -d '\r' >> "$log"
  rc=${PIPESTATUS[0]}
fi
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
elapsed=$((elapsed_ms / 1000)).$((elapsed_ms % 1000 / 100))

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
if [ "$verdict" = PASS ] && [ -n "$extra_line" ] && ! grep -Fxq -- "$extra_line" "$log"; then
  verdict=FAIL reason="no serial line reads exactly '$extra_line'"
fi

if [ "$verdict" = PASS ]; then
  case $expect in
    pass) echo "==== kernel boot $name: PASS ($last${extra_line:+; '$extra_line'}; exit $rc; ${elapsed}s; log $log)" ;;
    fail) echo "==== kernel boot $name: PASS (failed as intended, naming $failing_case: $last; exit $rc; ${elapsed}s)" ;;
    fatal) echo "==== kernel boot $name: PASS (ended as intended by '$failing_case'; exit $rc; ${elapsed}s)" ;;
    run)  echo "==== kernel run: finished (exit $rc; ${elapsed}s; log $log)" ;;
  esac
  exit 0
fi
echo "==== kernel boot $name: FAIL: $reason (log $log); its last lines:" >&2
grep -v '^#' "$log" | tail -n 25 >&2
exit 1
