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

#include <stdio.h>

static int unit_points, unit_failed_points, unit_failed_checks, unit_checks;

#define CHECK(cond, ...)                                                             \
	do {                                                                         \
		unit_checks++;                                                       \
		if (!(cond)) {                                                       \
			unit_failed_checks++;                                        \
			printf("# %s:%d: ", __FILE__, __LINE__);                     \
			printf(__VA_ARGS__);                                         \
			putchar('\n');                                               \
		}                                                                    \
	} while (0)

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
