# tests/docs/codes.sh (sourced by run.sh): the diagnostic code table
# (compiler/lib/diag_codes.c) and the call sites agree, and `clusterc explain`
# answers for each code.

# Every diag_error/diag_warning call passes a code literal as its third argument.
uncoded=$(cd "$TOP" && perl -0777 -ne '
	while (/\bdiag_(?:error|warning)\(((?:[^;"]|"(?:[^"\\]|\\.)*")*?)\);/sg) {
		my $args = $1;
		print "$ARGV: $args\n" unless $args =~ /,\s*"C\d{4}",/s;
	}' $(ls compiler/*/*.c grammar/*.l grammar/*.y | grep -v 'compiler/lib/diag\.c$'))
check "every diag_error/diag_warning call passes a code" test -z "$uncoded"
[ -z "$uncoded" ] || echo "$uncoded" | head -5

# The codes that appear outside the table are the used ones.
(cd "$TOP" && grep -ohE '"C[0-9]{4}"' $(ls compiler/*/*.c grammar/*.l grammar/*.y | grep -v diag_codes.c) |
	tr -d '"' | LC_ALL=C sort -u) >"$TMP/used"
clusterc explain --list | cut -d' ' -f1 >"$TMP/listed"
check "explain --list prints the table in code order, each code once" \
	cmp -s "$TMP/listed" <(LC_ALL=C sort -u "$TMP/listed")
missing=$(comm -23 "$TMP/used" "$TMP/listed" | tr '\n' ' ')
unused=$(comm -13 "$TMP/used" "$TMP/listed" | tr '\n' ' ')
check "every code used in the sources is in the table${missing:+ (missing: $missing)}" test -z "$missing"
check "every code in the table is used${unused:+ (unused: $unused)}" test -z "$unused"
bad_area=$(grep -vE '^C0[1-6][0-9][0-9]$' "$TMP/listed" | tr '\n' ' ')
check "every code is C01xx..C06xx${bad_area:+ (not: $bad_area)}" test -z "$bad_area"

# Each entry explains itself: a title line, a blank line, and a paragraph.
short=""
while read -r code; do
	clusterc explain "$code" >"$TMP/explain" 2>&1 || { short+="$code(exit) "; continue; }
	head -n 1 "$TMP/explain" | grep -q "^$code: ." || short+="$code(title) "
	[ "$(sed -n '3,$p' "$TMP/explain" | wc -w)" -ge 20 ] || short+="$code(short) "
done <"$TMP/listed"
check "every code has a title and an explanation${short:+ ($short)}" test -z "$short"
# Each explanation is its own: no paragraph shared between codes (a generic
# one per area says nothing about the code asked for).
shared=$(cd "$TOP" && perl -0777 -ne '
	my %seen;
	while (/\{ "(C\d{4})", "(?:[^"\\]|\\.)*",\s*"((?:[^"\\]|\\.)*)" \}/sg) {
		print "$1 " if $seen{$2}++;
	}' compiler/lib/diag_codes.c)
check "no two codes share an explanation${shared:+ (again: $shared)}" test -z "$shared"

clusterc explain c0101 >"$TMP/lower" 2>&1
check "explain accepts a lower-case code" grep -q '^C0101: ' "$TMP/lower"
clusterc explain C0199 >"$TMP/unknown.out" 2>"$TMP/unknown.err"
rc=$?
check "explain of an unknown code exits 1" test "$rc" = 1
check "explain of an unknown code prints nothing on stdout" test ! -s "$TMP/unknown.out"
check "explain of an unknown code suggests a near one" grep -qE "did you mean 'C01[0-9]{2}'" "$TMP/unknown.err"
clusterc explain >/dev/null 2>"$TMP/usage.err"
rc=$?
check "explain without a code: usage, exit 2" test "$rc" = 2
check "diagnostics show their code" grep -qE '^[^:]+:[0-9]+:[0-9]+: error\[C[0-9]{4}\]: ' \
	"$TOP/tests/diagnostics/001-syntax-missing-value.stderr"
