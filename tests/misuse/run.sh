#!/usr/bin/env bash
# run.sh — runs the misuse programs and judges each against cases.tsv.
#
#   run.sh BIN_DIR CASES [PROGRAM...]
#
# Every program runs (in parallel, JOBS at a time, each under a 60 s limit,
# no core dumps) with its stdout/stderr kept in BIN_DIR/<program>.out/.err;
# then each is judged by its exit status and the exact error name on stderr
# (see the head of cases.tsv). Prints one line per failure and a last line
# "misuse: N passed, M failed"; exits non-zero if any failed or if a program
# and the table disagree (a program without a row, a row without a program).
set -uo pipefail
bin=${1:?bin dir}; cases=${2:?cases file}; shift 2
jobs=${JOBS:-2}

mapfile -t rows < <(grep -v '^[[:space:]]*#' "$cases" | awk 'NF >= 2 {print $1, $2}')
declare -A expect=()
for r in "${rows[@]}"; do expect[${r%% *}]=${r#* }; done
selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=("${!expect[@]}")

status=0
for src in "$(dirname "$cases")"/*.c; do
  p=$(basename "$src" .c)
  [ -n "${expect[$p]:-}" ] || { echo "misuse: $p.c has no row in $cases"; status=1; }
done

ulimit -c 0
printf '%s\n' "${selected[@]}" | xargs -P "$jobs" -I{} bash -c \
  'timeout -s KILL 60 "$0/{}" >"$0/{}.out" 2>"$0/{}.err"; echo $? >"$0/{}.status"' "$bin" 2>/dev/null

passed=0; failed=0
for p in $(printf '%s\n' "${selected[@]}" | sort); do
  want=${expect[$p]:-}
  if [ -z "$want" ]; then echo "FAIL $p: no row in the table"; failed=$((failed + 1)); continue; fi
  got=$(cat "$bin/$p.status" 2>/dev/null || echo missing)
  err="$bin/$p.err"
  why=""
  case $want in
    error:*)
      names=${want#error:}
      if [ "$got" != 134 ]; then why="exit status $got, expected 134 (abort by the fatal handler)"
      elif ! grep -Eq "^pfalloc fatal: pfalloc: ($names): " "$err"; then why="no 'pfalloc: $names:' report"
      elif grep -Eq "^pfalloc: ($names): " "$err"; then why="the report shows twice (logged and fatal)"
      fi ;;
    ok|ok+warn:*)
      if [ "$got" != 0 ]; then why="exit status $got, expected 0"
      elif grep -q '^pfalloc fatal' "$err" || grep -v '^pfalloc: warning: ' "$err" | grep -Eq '^pfalloc: [a-z-]+: '; then
        why="an error was reported"
      elif [ "$want" = ok ] && grep -q '^pfalloc: warning: ' "$err"; then why="a warning was logged"
      elif [ "$want" != ok ] && ! grep -q "^pfalloc: warning: ${want#ok+warn:}: " "$err"; then
        why="no 'pfalloc: warning: ${want#ok+warn:}:' line"
      fi ;;
    *) why="bad expectation '$want' in the table" ;;
  esac
  if [ -z "$why" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL $p (expected $want): $why"
    sed -n '1,4s/^/    | /p' "$err"
  fi
done
echo "misuse: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
