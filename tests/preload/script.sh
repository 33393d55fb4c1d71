# script.sh — the bash workload of tests/preload/workloads.py: what bash
# itself allocates for (arrays, associative arrays, long strings, command
# substitution, here-strings, functions with locals, subshells), no timing,
# no addresses, so the output is the same under any malloc.
n=${1:-20000}
declare -A sq
arr=()
for ((i = 1; i <= n; i++)); do
  sq[k$i]=$((i * i % 1000003))
  arr+=("item$((i * 7919 % n))")
done
sum=0
for k in "${!sq[@]}"; do sum=$(( (sum + ${sq[$k]}) % 1000000007 )); done
s=""
for ((i = 0; i < n / 4; i++)); do s+="${i}x"; done
count_x() { local t=${1//[^x]/}; echo ${#t}; }
words=$(printf '%s\n' "${arr[@]}" | sort -u | wc -l)
last=$(printf '%s\n' "${arr[@]}" | sort | tail -n 1)
read -r -a parts <<< "$(seq 1 500 | tr '\n' ' ')"
echo "entries ${#sq[@]} sum $sum"
echo "string ${#s} x $(count_x "$s")"
echo "items ${#arr[@]} distinct $words last $last"
echo "parts ${#parts[@]} ${parts[499]}"
( unset 'arr[5]'; echo "subshell ${#arr[@]}" )
echo "after ${#arr[@]} ${arr[@]:10:3}"
upper=${s:0:40}; echo "${upper^^}"
