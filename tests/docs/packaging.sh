# tests/docs/packaging.sh (sourced by run.sh): man pages, shell completion,
# editor grammars and `make install`.
DOCS=$TOP/docs

# ---- man pages: groff reports every warning (-ww); none is allowed.
for page in clusterc.1 clusterc.5; do
	LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$DOCS/man/$page" >"$TMP/groff.err" 2>&1
	check "man page $page renders without groff warnings" test ! -s "$TMP/groff.err"
	[ ! -s "$TMP/groff.err" ] || head -5 "$TMP/groff.err"
	if command -v mandoc >/dev/null; then
		check "man page $page passes mandoc -Tlint" mandoc -Tlint -Wwarning "$DOCS/man/$page"
	fi
done
# Every command main.c lists (and those the other commands add) is in the page.
LC_ALL=C.UTF-8 groff -man -Tutf8 "$DOCS/man/clusterc.1" 2>/dev/null | sed 's/.\x08//g' >"$TMP/man1.txt"
commands=$(clusterc --help | sed -n 's/^  \([a-z-]*\) .*/\1/p')
missing=""
for c in $commands fmt graph import-env; do
	grep -qE "^ +$c( |$)" "$TMP/man1.txt" || missing+="$c "
done
check "clusterc.1 describes every command${missing:+ (missing: $missing)}" test -z "$missing"
# Every apply option in apply --help is in the page.
missing=""
for opt in $(clusterc apply --help | grep -oE -- '--[a-z-]+' | sort -u); do
	grep -q -- "$opt" "$TMP/man1.txt" || missing+="$opt "
done
check "clusterc.1 lists every apply option${missing:+ (missing: $missing)}" test -z "$missing"

# ---- bash completion: syntax, then the function itself on a few command lines.
check "bash completion parses (bash -n)" bash -n "$DOCS/completion/clusterc.bash"
mkdir -p "$TMP/comp/out"
touch "$TMP/comp/homelab.cluster" "$TMP/comp/notes.txt" "$TMP/comp/site.env"
complete_line() { # WORDS...: prints COMPREPLY for the last word, one a line
	(
		cd "$TMP/comp" || exit 1
		PATH=$(dirname "$CLUSTERC_BIN"):$PATH
		# shellcheck disable=SC1091
		source "$DOCS/completion/clusterc.bash"
		COMP_WORDS=("$@")
		COMP_CWORD=$(($# - 1))
		_clusterc
		printf '%s\n' "${COMPREPLY[@]}"
	) | LC_ALL=C sort
}
check "completion: commands" grep -qx apply <(complete_line clusterc a)
check "completion: new commands (fmt, graph, import-env)" \
	test "$(complete_line clusterc f; complete_line clusterc g; complete_line clusterc i)" = "$(printf 'fmt\ngraph\nimport-env')"
check "completion: apply options" grep -qx -- --dry-run <(complete_line clusterc apply --d)
check "completion: disconnect, drift and reset" test "$(complete_line clusterc d; complete_line clusterc r)" = "$(printf 'disconnect\ndrift\nreset')"
check "completion: reset options" grep -qx -- --all <(complete_line clusterc reset --a)
check "completion: check offers .cluster files, not others" \
	test "$(complete_line clusterc check "" | tr '\n' ' ')" = "homelab.cluster out "
check "completion: import-env offers .env files" grep -qx site.env <(complete_line clusterc import-env "")
check "completion: explain offers codes" grep -qx C0101 <(complete_line clusterc explain C010)
check "completion: --format values" test "$(complete_line clusterc graph --format s)" = svg
check "completion: status and its options" \
	sh -c 'test "$1" = status && test "$2" = --inventory' _ "$(complete_line clusterc st)" "$(complete_line clusterc status --inv)"
if command -v zsh >/dev/null; then
	check "zsh completion parses (zsh -n)" zsh -n "$DOCS/completion/_clusterc"
else
	echo "note: zsh not installed: _clusterc not parsed"
fi
check "zsh completion names every command" bash -c '
	for c in check build plan apply status disconnect drift reset explain fmt graph import-env version; do
		grep -q "^		'\''$c:" "$1" || { echo "missing $c"; exit 1; }
	done' _ "$DOCS/completion/_clusterc"

# ---- editor grammars against the lexer: the keyword literals and number units
# of grammar/clusterc.l are exactly what vim and TextMate highlight.
lexer_keywords=$(sed -n 's/^"\([a-z][a-z]*\)"[[:space:]].*/\1/p' "$TOP/grammar/clusterc.l" | LC_ALL=C sort | tr '\n' ' ')
lexer_units=$(grep -oE '^\{D\}\+\([A-Za-z|]+\)' "$TOP/grammar/clusterc.l" | sed 's/.*(\(.*\))/\1/' | tr '|' '\n' | LC_ALL=C sort | tr '\n' ' ')
vim=$DOCS/editors/vim/syntax/cluster.vim
vim_keywords=$(sed -n 's/^syn keyword cluster\(Keyword\|Boolean\) //p' "$vim" | tr ' ' '\n' | grep . | LC_ALL=C sort | tr '\n' ' ')
vim_units=$(sed -n 's/^syn match clusterNumber .*\\(\(.*\)\\)\\?.*/\1/p' "$vim" | sed 's/\\|/\n/g' | LC_ALL=C sort | tr '\n' ' ')
check "lexer keywords found (import true false)" test "$lexer_keywords" = "false import true "
check "vim keywords are the lexer's ($vim_keywords)" test "$vim_keywords" = "$lexer_keywords"
check "vim number units are the lexer's" test "$vim_units" = "$lexer_units"
tm=$DOCS/editors/vscode/syntaxes/cluster.tmLanguage.json
check "TextMate grammar is JSON" jq -e . "$tm"
tm_keywords=$(jq -r '.repository.keyword.match, .repository.boolean.match' "$tm" |
	sed 's/\\\\b(\(.*\))\\\\b/\1/; s/\\b(\(.*\))\\b/\1/' | tr '|' '\n' | LC_ALL=C sort | tr '\n' ' ')
tm_units=$(jq -r '.repository.number.match' "$tm" | sed 's/.*(\(.*\))?.*/\1/' | tr '|' '\n' | LC_ALL=C sort | tr '\n' ' ')
check "TextMate keywords are the lexer's ($tm_keywords)" test "$tm_keywords" = "$lexer_keywords"
check "TextMate number units are the lexer's" test "$tm_units" = "$lexer_units"
check "VS Code package points at the grammar" \
	test "$(jq -r '.contributes.grammars[0].path' "$DOCS/editors/vscode/package.json")" = ./syntaxes/cluster.tmLanguage.json
# The grammars' regexes: TextMate's compile as Perl-style ones (Oniguruma's subset).
check "TextMate regexes compile" perl -e '
	use JSON::PP; local $/; open my $f, "<", $ARGV[0] or die; my $g = decode_json(<$f>);
	for my $r (values %{$g->{repository}}) { for my $k (qw(match begin end)) { qr/$r->{$k}/ if $r->{$k} } }' "$tm"

# ---- make install into a temp DESTDIR, then uninstall leaves nothing.
dest=$TMP/destdir
make -s -C "$TOP" install PREFIX=/usr DESTDIR="$dest" >"$TMP/install.log" 2>&1
check "make install PREFIX=/usr DESTDIR=... succeeds" test $? = 0
for f in bin/clusterc share/man/man1/clusterc.1 share/man/man5/clusterc.5 \
	share/bash-completion/completions/clusterc share/zsh/site-functions/_clusterc \
	share/vim/vimfiles/syntax/cluster.vim share/vim/vimfiles/ftdetect/cluster.vim; do
	check "installed /usr/$f" test -s "$dest/usr/$f"
done
check "the installed binary runs" "$dest/usr/bin/clusterc" version
check "man finds the installed page" bash -c 'MANPATH="$1" man -w clusterc | grep -q man1/clusterc.1' _ "$dest/usr/share/man"
make -s -C "$TOP" uninstall PREFIX=/usr DESTDIR="$dest" >>"$TMP/install.log" 2>&1
check "make uninstall removes every file" test -z "$(find "$dest" -type f)"
