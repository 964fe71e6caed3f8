/* Unit tests for net.c: IPv4, CIDR and endpoint parsing and formatting,
 * leading zeros and ranges, containment and overlap at the /0 and /32 edges,
 * and the size, duration and integer literals with their overflow bounds.
 * TAP output (unit.h). */
#include "net.h"
#include "strbuf.h"
#include "unit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (uint32_t)(d))

static enum net_status ip(const char *s, uint32_t *out)
{
	return ipv4_parse(s, strlen(s), out);
}

static void test_ipv4_valid(void)
{
	static const struct { const char *s; uint32_t v; } ok[] = {
		{ "0.0.0.0", 0 },
		{ "255.255.255.255", 0xffffffffu },
		{ "192.168.1.1", IP(192, 168, 1, 1) },
		{ "10.0.0.0", IP(10, 0, 0, 0) },
		{ "1.2.3.4", IP(1, 2, 3, 4) },
		{ "100.64.0.10", IP(100, 64, 0, 10) },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint32_t v = 1;
		enum net_status st = ip(ok[i].s, &v);
		CHECK(st == NET_OK, "%s: status %d", ok[i].s, st);
		CHECK(v == ok[i].v, "%s: got %08" PRIx32, ok[i].s, v);
	}
}

static void test_ipv4_invalid(void)
{
	static const struct { const char *s; enum net_status st; } bad[] = {
		{ "256.0.0.1", NET_OCTET_RANGE },
		{ "1.2.3.999", NET_OCTET_RANGE },
		{ "1000.1.1.1", NET_OCTET_RANGE },
		{ "01.2.3.4", NET_LEADING_ZERO },
		{ "1.2.3.04", NET_LEADING_ZERO },
		{ "1.2.3.00", NET_LEADING_ZERO },
		{ "0001.2.3.4", NET_LEADING_ZERO },
		{ "1.2.3", NET_BAD_FORMAT },
		{ "1.2.3.4.5", NET_BAD_FORMAT },
		{ "1..3.4", NET_BAD_FORMAT },
		{ ".1.2.3", NET_BAD_FORMAT },
		{ "1.2.3.", NET_BAD_FORMAT },
		{ "", NET_BAD_FORMAT },
		{ "a.b.c.d", NET_BAD_FORMAT },
		{ "1.2.3.4 ", NET_BAD_FORMAT },
		{ "-1.2.3.4", NET_BAD_FORMAT },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t v = 0xdeadbeef;
		enum net_status st = ip(bad[i].s, &v);
		CHECK(st == bad[i].st, "'%s': status %d, want %d", bad[i].s, st, bad[i].st);
		CHECK(v == 0xdeadbeef, "'%s': output written on error", bad[i].s);
	}
	/* The length bounds the parse: "1.2.3.4" inside a longer buffer. */
	uint32_t v;
	CHECK(ipv4_parse("1.2.3.45", 7, &v) == NET_OK && v == IP(1, 2, 3, 4), "prefix of a buffer");
}

static void test_cidr(void)
{
	uint32_t a;
	uint8_t p;
	CHECK(cidr_parse("10.0.0.0/8", 10, &a, &p) == NET_OK && a == IP(10, 0, 0, 0) && p == 8, "10/8");
	CHECK(cidr_parse("0.0.0.0/0", 9, &a, &p) == NET_OK && a == 0 && p == 0, "/0");
	CHECK(cidr_parse("1.2.3.4/32", 10, &a, &p) == NET_OK && p == 32, "/32");
	/* A host address with its prefix is allowed (node addresses). */
	CHECK(cidr_parse("192.168.1.180/24", 16, &a, &p) == NET_OK && a == IP(192, 168, 1, 180) && p == 24,
	      "host bits kept");
	static const struct { const char *s; enum net_status st; } bad[] = {
		{ "1.2.3.4/33", NET_PREFIX_RANGE },
		{ "1.2.3.4/100", NET_PREFIX_RANGE },
		{ "1.2.3.4/012", NET_LEADING_ZERO },
		{ "1.2.3.4/08", NET_LEADING_ZERO },
		{ "1.2.3.4/", NET_BAD_FORMAT },
		{ "1.2.3.4", NET_BAD_FORMAT },
		{ "1.2.3/24", NET_BAD_FORMAT },
		{ "1.2.3.256/24", NET_OCTET_RANGE },
		{ "01.2.3.4/24", NET_LEADING_ZERO },
		{ "1.2.3.4/2x", NET_BAD_FORMAT },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum net_status st = cidr_parse(bad[i].s, strlen(bad[i].s), &a, &p);
		CHECK(st == bad[i].st, "'%s': status %d, want %d", bad[i].s, st, bad[i].st);
	}
	uint8_t p0 = 0;
	CHECK(cidr_parse("1.2.3.4/0", 9, &a, &p0) == NET_OK && p0 == 0, "/0 is not a leading zero");
}

static void test_endpoint(void)
{
	uint32_t a;
	uint16_t port;
	CHECK(endpoint_parse("192.168.1.10:6789", 17, &a, &port) == NET_OK && a == IP(192, 168, 1, 10) &&
		      port == 6789, "monitor");
	CHECK(endpoint_parse("1.2.3.4:1", 9, &a, &port) == NET_OK && port == 1, "port 1");
	CHECK(endpoint_parse("1.2.3.4:65535", 13, &a, &port) == NET_OK && port == 65535, "port 65535");
	static const struct { const char *s; enum net_status st; } bad[] = {
		{ "1.2.3.4:0", NET_PORT_RANGE },
		{ "1.2.3.4:65536", NET_PORT_RANGE },
		{ "1.2.3.4:999999", NET_PORT_RANGE },
		{ "1.2.3.4:080", NET_LEADING_ZERO },
		{ "1.2.3.4:00", NET_LEADING_ZERO },
		{ "1.2.3.4:", NET_BAD_FORMAT },
		{ "1.2.3.4", NET_BAD_FORMAT },
		{ "300.2.3.4:80", NET_OCTET_RANGE },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum net_status st = endpoint_parse(bad[i].s, strlen(bad[i].s), &a, &port);
		CHECK(st == bad[i].st, "'%s': status %d, want %d", bad[i].s, st, bad[i].st);
	}
}

static void test_format(void)
{
	static const char *const round[] = { "0.0.0.0", "255.255.255.255", "10.244.0.1", "192.168.1.180" };
	for (size_t i = 0; i < sizeof(round) / sizeof(round[0]); i++) {
		uint32_t a;
		struct strbuf sb = STRBUF_INIT;
		CHECK(ip(round[i], &a) == NET_OK, "%s", round[i]);
		ipv4_format(&sb, a);
		CHECK(!strcmp(sb.buf, round[i]), "format %s: got %s", round[i], sb.buf);
		strbuf_release(&sb);
	}
	struct strbuf sb = STRBUF_INIT;
	cidr_format(&sb, IP(10, 96, 0, 0), 12);
	CHECK(!strcmp(sb.buf, "10.96.0.0/12"), "cidr_format: %s", sb.buf);
	strbuf_reset(&sb);
	cidr_format(&sb, 0, 0);
	CHECK(!strcmp(sb.buf, "0.0.0.0/0"), "cidr_format /0: %s", sb.buf);
	strbuf_reset(&sb);
	strbuf_addstr(&sb, "at ");
	ipv4_format(&sb, IP(1, 2, 3, 4));
	CHECK(!strcmp(sb.buf, "at 1.2.3.4"), "appends: %s", sb.buf);
	strbuf_release(&sb);
}

static void test_masks(void)
{
	CHECK(cidr_mask(0) == 0, "mask /0");
	CHECK(cidr_mask(1) == 0x80000000u, "mask /1");
	CHECK(cidr_mask(24) == 0xffffff00u, "mask /24");
	CHECK(cidr_mask(31) == 0xfffffffeu, "mask /31");
	CHECK(cidr_mask(32) == 0xffffffffu, "mask /32");
	CHECK(cidr_network(IP(192, 168, 1, 180), 24) == IP(192, 168, 1, 0), "network /24");
	CHECK(cidr_broadcast(IP(192, 168, 1, 180), 24) == IP(192, 168, 1, 255), "broadcast /24");
	CHECK(cidr_network(IP(192, 168, 1, 180), 0) == 0, "network /0");
	CHECK(cidr_broadcast(IP(192, 168, 1, 180), 0) == 0xffffffffu, "broadcast /0");
	CHECK(cidr_network(IP(1, 2, 3, 4), 32) == IP(1, 2, 3, 4), "network /32");
	CHECK(cidr_broadcast(IP(1, 2, 3, 4), 32) == IP(1, 2, 3, 4), "broadcast /32");
	CHECK(cidr_broadcast(IP(10, 0, 0, 0), 8) == IP(10, 255, 255, 255), "broadcast /8");
}

static void test_contains(void)
{
	/* /0 contains everything; /32 only itself. */
	CHECK(cidr_contains(0, 0, 0xffffffffu), "/0 contains the last address");
	CHECK(cidr_contains(IP(9, 9, 9, 9), 0, 0), "/0 contains 0.0.0.0 whatever its base");
	CHECK(cidr_contains(IP(1, 2, 3, 4), 32, IP(1, 2, 3, 4)), "/32 contains itself");
	CHECK(!cidr_contains(IP(1, 2, 3, 4), 32, IP(1, 2, 3, 5)), "/32 and the next address");
	/* First and last addresses, and one past either side. */
	CHECK(cidr_contains(IP(192, 168, 1, 0), 24, IP(192, 168, 1, 0)), "first");
	CHECK(cidr_contains(IP(192, 168, 1, 0), 24, IP(192, 168, 1, 255)), "last");
	CHECK(!cidr_contains(IP(192, 168, 1, 0), 24, IP(192, 168, 0, 255)), "one below");
	CHECK(!cidr_contains(IP(192, 168, 1, 0), 24, IP(192, 168, 2, 0)), "one above");
	/* Host bits in the network argument are ignored. */
	CHECK(cidr_contains(IP(192, 168, 1, 180), 24, IP(192, 168, 1, 1)), "host bits in the network");
	CHECK(cidr_contains(IP(192, 168, 1, 193), 27, IP(192, 168, 1, 223)), "lb_pool /27 last");
	CHECK(!cidr_contains(IP(192, 168, 1, 193), 27, IP(192, 168, 1, 224)), "lb_pool /27 past the end");
}

static void test_overlaps(void)
{
	CHECK(cidr_overlaps(IP(10, 244, 0, 0), 16, IP(10, 96, 0, 0), 12) == false, "kubeadm defaults");
	CHECK(cidr_overlaps(IP(10, 0, 0, 0), 8, IP(10, 96, 0, 0), 12), "/8 holds /12");
	CHECK(cidr_overlaps(IP(10, 96, 0, 0), 12, IP(10, 0, 0, 0), 8), "symmetric");
	CHECK(cidr_overlaps(0, 0, IP(1, 2, 3, 4), 32), "/0 overlaps anything");
	CHECK(cidr_overlaps(IP(1, 2, 3, 4), 32, 0, 0), "anything overlaps /0");
	CHECK(cidr_overlaps(IP(1, 2, 3, 4), 32, IP(1, 2, 3, 4), 32), "/32 with itself");
	CHECK(!cidr_overlaps(IP(1, 2, 3, 4), 32, IP(1, 2, 3, 5), 32), "neighbouring /32s");
	/* Adjacent blocks touch but do not overlap. */
	CHECK(!cidr_overlaps(IP(192, 168, 1, 0), 25, IP(192, 168, 1, 128), 25), "adjacent /25s");
	CHECK(!cidr_overlaps(IP(10, 96, 0, 0), 12, IP(10, 112, 0, 0), 12), "adjacent /12s");
	CHECK(cidr_overlaps(IP(192, 168, 1, 0), 24, IP(192, 168, 1, 192), 27), "pool inside the node subnet");
}

static void test_sizes(void)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "1K", 1024 },
		{ "1KiB", 1024 },
		{ "512M", 512ull << 20 },
		{ "512MiB", 512ull << 20 },
		{ "8G", 8ull << 30 },
		{ "8GiB", 8ull << 30 },
		{ "2T", 2ull << 40 },
		{ "2TiB", 2ull << 40 },
		{ "0G", 0 },
		{ "007M", 7ull << 20 },
		/* The largest value of each unit that fits in int64. */
		{ "9007199254740991K", 9007199254740991ull << 10 },
		{ "8388607T", 8388607ull << 40 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		enum net_status st = size_parse(ok[i].s, strlen(ok[i].s), &v);
		CHECK(st == NET_OK && v == ok[i].v, "%s: status %d value %" PRIu64, ok[i].s, st, v);
	}
	static const struct { const char *s; enum net_status st; } bad[] = {
		{ "9007199254740992K", NET_OVERFLOW },
		{ "8388608T", NET_OVERFLOW },
		{ "8388608TiB", NET_OVERFLOW },
		{ "99999999999TiB", NET_OVERFLOW },
		{ "18446744073709551616K", NET_OVERFLOW },
		{ "8GB", NET_BAD_UNIT },
		{ "8g", NET_BAD_UNIT },
		{ "8Gi", NET_BAD_UNIT },
		{ "8", NET_BAD_UNIT },
		{ "GiB", NET_BAD_FORMAT },
		{ "", NET_BAD_FORMAT },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 42;
		enum net_status st = size_parse(bad[i].s, strlen(bad[i].s), &v);
		CHECK(st == bad[i].st, "'%s': status %d, want %d", bad[i].s, st, bad[i].st);
		CHECK(v == 42, "'%s': output written on error", bad[i].s);
	}
}

static void test_durations(void)
{
	static const struct { const char *s; uint64_t v; } ok[] = {
		{ "30s", 30 },
		{ "5m", 300 },
		{ "2h", 7200 },
		{ "0s", 0 },
		{ "9223372036854775807s", 9223372036854775807ull },
		{ "153722867280912930m", 153722867280912930ull * 60 },
		{ "2562047788015215h", 2562047788015215ull * 3600 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t v = 1;
		enum net_status st = duration_parse(ok[i].s, strlen(ok[i].s), &v);
		CHECK(st == NET_OK && v == ok[i].v, "%s: status %d value %" PRIu64, ok[i].s, st, v);
	}
	static const struct { const char *s; enum net_status st; } bad[] = {
		{ "9223372036854775808s", NET_OVERFLOW },
		{ "153722867280912931m", NET_OVERFLOW },
		{ "2562047788015216h", NET_OVERFLOW },
		{ "999999999999999999999s", NET_OVERFLOW },
		{ "5d", NET_BAD_UNIT },
		{ "5ms", NET_BAD_UNIT },
		{ "5", NET_BAD_UNIT },
		{ "s", NET_BAD_FORMAT },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 42;
		enum net_status st = duration_parse(bad[i].s, strlen(bad[i].s), &v);
		CHECK(st == bad[i].st, "'%s': status %d, want %d", bad[i].s, st, bad[i].st);
	}
}

static void test_integers(void)
{
	uint64_t v;
	CHECK(int_parse("0", 1, &v) == NET_OK && v == 0, "0");
	CHECK(int_parse("42", 2, &v) == NET_OK && v == 42, "42");
	CHECK(int_parse("0042", 4, &v) == NET_OK && v == 42, "leading zeros are fine in integers");
	CHECK(int_parse("9223372036854775807", 19, &v) == NET_OK && v == 9223372036854775807ull, "INT64_MAX");
	CHECK(int_parse("9223372036854775808", 19, &v) == NET_OVERFLOW, "INT64_MAX + 1");
	CHECK(int_parse("18446744073709551616", 20, &v) == NET_OVERFLOW, "2^64");
	CHECK(int_parse("99999999999999999999999999", 26, &v) == NET_OVERFLOW, "far too large");
	CHECK(int_parse("", 0, &v) == NET_BAD_FORMAT, "empty");
	CHECK(int_parse("12a", 3, &v) == NET_BAD_FORMAT, "not digits");
}

static void test_status_text(void)
{
	for (int st = NET_OK; st <= NET_BAD_UNIT; st++) {
		const char *t = net_status_text((enum net_status)st);
		CHECK(t && *t, "status %d has a text", st);
	}
	CHECK(!strcmp(net_status_text(NET_LEADING_ZERO), "a number has a leading zero"), "leading zero text");
}

int main(void)
{
	unit_test("ipv4: valid addresses", test_ipv4_valid);
	unit_test("ipv4: invalid addresses and leading zeros", test_ipv4_invalid);
	unit_test("cidr: parse, prefix range, leading zeros", test_cidr);
	unit_test("endpoint: parse, port range", test_endpoint);
	unit_test("format: ipv4 and cidr round trips", test_format);
	unit_test("masks: network and broadcast, /0 to /32", test_masks);
	unit_test("contains: /0, /32, edges", test_contains);
	unit_test("overlaps: /0, /32, adjacent blocks", test_overlaps);
	unit_test("sizes: every unit and overflow", test_sizes);
	unit_test("durations: s m h and overflow", test_durations);
	unit_test("integers: bounds", test_integers);
	unit_test("status texts", test_status_text);
	return unit_done();
}
