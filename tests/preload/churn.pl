# churn.pl — a Perl workload for the preload tests and bench-real: hashes,
# regular expressions and strings built, matched, split and dropped, with a
# summary that depends on every step. Hash order is randomised per process,
# so every walk over a hash is sorted. Usage: perl churn.pl ROUNDS
use strict;
use warnings;

my $rounds = shift // 10;
my $seed = 12345;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed; }
my @syll = qw(ka lo mi nu pe ra si to vu xe ya zo an el in on un);
sub word { my $n = 1 + rnd() % 4; return join '', map { $syll[rnd() % @syll] } 1 .. $n; }

my ($lines, $matches, $sum) = (0, 0, 0);
for my $r (1 .. $rounds) {
    my %h;
    my @text;
    for my $i (1 .. 2000) {
        my $line = join ' ', map { word() } 1 .. (3 + rnd() % 12);
        push @text, $line;
        $h{$_}++ for split / /, $line;
    }
    my $big = join "\n", @text;
    while ($big =~ /\b(k\w*o)\b/g) { $matches++; }
    (my $copy = $big) =~ s/([aeiou])([rst])/$2$1/g;
    $sum += length($copy);
    my @top = (sort { $h{$b} <=> $h{$a} || $a cmp $b } keys %h)[0 .. 9];
    $sum += $h{$_} for @top;
    my %inv;
    push @{ $inv{length $_} }, $_ for keys %h;
    $sum += scalar(@{ $inv{$_} }) * $_ for sort { $a <=> $b } keys %inv;
    $lines += @text;
}
print "perl: $rounds rounds, $lines lines, $matches matches, sum $sum\n";
