/* The one harness every unit test uses: TAP output (https://testanything.org,
 * version 13) so any TAP consumer, prove(1) included, reads the result.
 *
 *   static void test_roundtrip(void) { CHECK(x == 1, "x is %d", x); }
 *   int main(void) { UNIT_TEST(test_roundtrip); return unit_done(); }
 *
 * A test point is one named test function; every CHECK that fails inside it
 * prints a "# file:line: message" diagnostic and turns the point "not ok".
 * unit_done() prints the plan ("1..N") last, which TAP allows, so a program
 * that crashes mid-way leaves a missing plan and its consumer sees the crash.
 * The exit status is 0 only when every point passed. Header-only because each
 * test is its own program. */
#ifndef CLUSTERC_TESTS_UNIT_H
#define CLUSTERC_TESTS_UNIT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int unit_points, unit_failed_points, unit_failed_checks, unit_checks;

/* Prints lines as TAP diagnostics: each gets a "# " prefix, so a multi-line
 * message (a got/want pair, a diagnostics dump) stays out of the test lines
 * a TAP consumer reads. */
static inline void unit_diag_lines(const char *text)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		printf("# %.*s\n", n, p);
		p += n + (nl != NULL);
	}
}

static inline void unit_vdiag(const char *file, int line, const char *fmt, va_list ap)
{
	char buf[8192];
	int n = file ? snprintf(buf, sizeof buf, "%s:%d: ", file, line) : 0;
	vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	unit_diag_lines(buf);
}

/* A "# " diagnostic with printf arguments. */
__attribute__((format(printf, 1, 2))) static inline void unit_diag(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	unit_vdiag(NULL, 0, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static inline void unit_diag_at(const char *file, int line, const char *fmt,
								  ...)
{
	va_list ap;
	va_start(ap, fmt);
	unit_vdiag(file, line, fmt, ap);
	va_end(ap);
}

/* Counts one check that has already been decided; a failed one marks the
 * current test point "not ok". The caller prints its own diagnostic. */
static inline bool unit_check(bool ok)
{
	unit_checks++;
	if (!ok)
		unit_failed_checks++;
	return ok;
}

/* CHECK_AT reports the caller's LINE, for helpers that check on behalf of
 * a table of cases; CHECK reports its own line. */
#define CHECK_AT(line, cond, ...)                                                    \
	do {                                                                         \
		if (!unit_check(cond)) {                                             \
			unit_diag_at(__FILE__, (int)(line), __VA_ARGS__);            \
		}                                                                    \
	} while (0)

#define CHECK(cond, ...) CHECK_AT(__LINE__, cond, __VA_ARGS__)

/* Runs FN as one test point named NAME. */
static inline void unit_test(const char *name, void (*fn)(void))
{
	int before = unit_failed_checks;
	fn();
	unit_points++;
	if (unit_failed_checks == before) {
		printf("ok %d - %s\n", unit_points, name);
	} else {
		unit_failed_points++;
		printf("not ok %d - %s\n", unit_points, name);
	}
	fflush(stdout);
}

#define UNIT_TEST(fn) unit_test(#fn, fn)

/* Prints the plan and a summary comment; returns main's exit status. */
static inline int unit_done(void)
{
	printf("1..%d\n", unit_points);
	printf("# %d checks in %d tests, %d tests failed\n", unit_checks, unit_points,
	       unit_failed_points);
	return unit_failed_points || unit_failed_checks ? 1 : 0;
}

#endif
