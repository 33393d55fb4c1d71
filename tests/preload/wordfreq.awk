# wordfreq.awk — the awk workload: word frequencies over generated text,
# plus per-line field statistics; printed unsorted (the next step sorts).
{
    for (i = 1; i <= NF; i++) { c[$i]++; len[length($i)]++ }
    s = $0; gsub(/[aeiou]/, "", s); consonants += length(s)
    lines++
}
END {
    for (w in c) print c[w], w
    for (l in len) print "len", l, len[l]
    print "total", lines, consonants
}
