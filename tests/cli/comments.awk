# tests/cli/comments.awk: prints the comments of a .cluster file, one a line,
# in order: '#' outside a string to the line end, trailing blanks dropped.
# Written apart from front/format.c's scanner so the test does not trust the
# code it tests (awk, not python: it runs ~500 times per area).
{
	in_str = 0
	for (i = 1; i <= length($0); i++) {
		c = substr($0, i, 1)
		if (in_str && c == "\\") { i++; continue }
		if (c == "\"") in_str = !in_str
		else if (c == "#" && !in_str) {
			s = substr($0, i); sub(/[ \t\r]+$/, "", s); print s
			break
		}
	}
}
