#include "net.h"

#include <string.h>

static enum net_status parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out, bool zero_ok)
{
	if (!n)
		return NET_BAD_FORMAT;
	if (n > 1 && s[0] == '0' && !zero_ok)
		return NET_LEADING_ZERO;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return NET_BAD_FORMAT;
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (max - d) / 10)
			return NET_OVERFLOW;
		v = v * 10 + d;
	}
	*out = v;
	return NET_OK;
}

enum net_status int_parse(const char *s, size_t n, uint64_t *out)
{
	return parse_dec(s, n, INT64_MAX, out, true);
}

enum net_status ipv4_parse(const char *s, size_t n, uint32_t *out)
{
	uint32_t addr = 0;
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		size_t start = i;
		while (i < n && s[i] != '.')
			i++;
		if (i - start > 1 && s[start] == '0')
			return NET_LEADING_ZERO;
		if (i - start == 0 || i - start > 3) {
			/* Four digits or more is an out-of-range octet, not a format error. */
			if (i - start > 3)
				return NET_OCTET_RANGE;
			return NET_BAD_FORMAT;
		}
		uint64_t v;
		enum net_status st = parse_dec(s + start, i - start, 999, &v, false);
		if (st != NET_OK)
			return st;
		if (v > 255)
			return NET_OCTET_RANGE;
		addr = (addr << 8) | (uint32_t)v;
		if (part < 3) {
			if (i >= n || s[i] != '.')
				return NET_BAD_FORMAT;
			i++;
		}
	}
	if (i != n)
		return NET_BAD_FORMAT;
	*out = addr;
	return NET_OK;
}

/* ADDR, a separator, then a decimal number from lo to hi written with at most
 * maxdigits digits: the shared shape of CIDRs and endpoints. */
static enum net_status parse_addr_number(const char *s, size_t n, char sep, size_t maxdigits,
					 uint64_t lo, uint64_t hi, enum net_status range,
					 uint32_t *addr, uint64_t *v)
{
	const char *at = memchr(s, sep, n);
	if (!at)
		return NET_BAD_FORMAT;
	enum net_status st = ipv4_parse(s, (size_t)(at - s), addr);
	if (st != NET_OK)
		return st;
	size_t len = n - (size_t)(at - s) - 1;
	if (len > 1 && at[1] == '0')
		return NET_LEADING_ZERO; /* "/012" is a typo, not a long prefix */
	if (len > maxdigits)
		return range;
	st = parse_dec(at + 1, len, 99999, v, false);
	if (st != NET_OK)
		return st;
	return *v < lo || *v > hi ? range : NET_OK;
}

enum net_status cidr_parse(const char *s, size_t n, uint32_t *addr, uint8_t *prefix)
{
	uint64_t p;
	enum net_status st = parse_addr_number(s, n, '/', 2, 0, 32, NET_PREFIX_RANGE, addr, &p);
	if (st == NET_OK)
		*prefix = (uint8_t)p;
	return st;
}

enum net_status endpoint_parse(const char *s, size_t n, uint32_t *addr, uint16_t *port)
{
	uint64_t p;
	enum net_status st = parse_addr_number(s, n, ':', 5, 1, 65535, NET_PORT_RANGE, addr, &p);
	if (st == NET_OK)
		*port = (uint16_t)p;
	return st;
}

const char *net_status_text(enum net_status st)
{
	switch (st) {
	case NET_OK: return "ok";
	case NET_BAD_FORMAT: return "malformed";
	case NET_OCTET_RANGE: return "an octet is greater than 255";
	case NET_PREFIX_RANGE: return "the prefix length is greater than 32";
	case NET_PORT_RANGE: return "the port is not between 1 and 65535";
	case NET_LEADING_ZERO: return "a number has a leading zero";
	case NET_OVERFLOW: return "the number is too large";
	case NET_BAD_UNIT: return "unknown unit";
	}
	return "malformed";
}

static void add_octet(struct strbuf *sb, unsigned v)
{
	/* Formatting by hand: this runs for every node, and printf dominated. */
	if (v >= 100)
		strbuf_addch(sb, '0' + (int)(v / 100));
	if (v >= 10)
		strbuf_addch(sb, '0' + (int)(v / 10 % 10));
	strbuf_addch(sb, '0' + (int)(v % 10));
}

void ipv4_format(struct strbuf *sb, uint32_t a)
{
	for (int shift = 24; shift >= 0; shift -= 8) {
		add_octet(sb, (a >> shift) & 255);
		if (shift)
			strbuf_addch(sb, '.');
	}
}

void cidr_format(struct strbuf *sb, uint32_t addr, uint8_t prefix)
{
	ipv4_format(sb, addr);
	strbuf_addch(sb, '/');
	add_octet(sb, prefix);
}

uint32_t cidr_mask(uint8_t prefix)
{
	return prefix == 0 ? 0 : prefix >= 32 ? 0xffffffffu : ~((1u << (32 - prefix)) - 1);
}

uint32_t cidr_network(uint32_t addr, uint8_t prefix)
{
	return addr & cidr_mask(prefix);
}

uint32_t cidr_broadcast(uint32_t addr, uint8_t prefix)
{
	return addr | ~cidr_mask(prefix);
}

bool cidr_contains(uint32_t net, uint8_t prefix, uint32_t addr)
{
	return cidr_network(net, prefix) == cidr_network(addr, prefix);
}

bool cidr_overlaps(uint32_t a, uint8_t pa, uint32_t b, uint8_t pb)
{
	uint8_t p = pa < pb ? pa : pb;
	return cidr_network(a, p) == cidr_network(b, p);
}

/* A unit and what one of it is worth, for unit_parse. */
struct unit_worth {
	const char *name;
	uint64_t mult;
};

/* Digits then one of units: the amount in the smallest unit, refused when it
 * would not fit an int64. Sizes and durations are both read this way. */
static enum net_status unit_parse(const char *s, size_t n, const struct unit_worth *units, size_t nunits,
				  uint64_t *out)
{
	size_t d = 0;
	while (d < n && s[d] >= '0' && s[d] <= '9')
		d++;
	if (d == 0)
		return NET_BAD_FORMAT;
	const char *u = s + d;
	size_t ul = n - d;
	for (size_t i = 0; i < nunits; i++) {
		if (strlen(units[i].name) == ul && !memcmp(units[i].name, u, ul)) {
			uint64_t v;
			enum net_status st = parse_dec(s, d, INT64_MAX / units[i].mult, &v, true);
			if (st != NET_OK)
				return st;
			*out = v * units[i].mult;
			return NET_OK;
		}
	}
	return NET_BAD_UNIT;
}

enum net_status size_parse(const char *s, size_t n, uint64_t *bytes)
{
	static const struct unit_worth units[] = {
		{ "K", 1ull << 10 }, { "M", 1ull << 20 }, { "G", 1ull << 30 }, { "T", 1ull << 40 },
		{ "KiB", 1ull << 10 }, { "MiB", 1ull << 20 }, { "GiB", 1ull << 30 }, { "TiB", 1ull << 40 },
	};
	return unit_parse(s, n, units, sizeof(units) / sizeof(units[0]), bytes);
}

enum net_status duration_parse(const char *s, size_t n, uint64_t *seconds)
{
	static const struct unit_worth units[] = { { "s", 1 }, { "m", 60 }, { "h", 3600 } };
	return unit_parse(s, n, units, sizeof(units) / sizeof(units[0]), seconds);
}
