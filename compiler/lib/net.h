/* net: IPv4, CIDR and endpoint arithmetic, and the size and duration literals.
 * Pure functions, no allocation except into a caller's strbuf. */
#ifndef CLUSTERC_NET_H
#define CLUSTERC_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

enum net_status { NET_OK = 0, NET_BAD_FORMAT, NET_OCTET_RANGE, NET_PREFIX_RANGE,
		  NET_PORT_RANGE, NET_LEADING_ZERO, NET_OVERFLOW, NET_BAD_UNIT };

/* Strict dotted quad: four decimal octets 0..255, no leading zeros. */
enum net_status ipv4_parse(const char *s, size_t n, uint32_t *out);
/* ADDR/PREFIX, prefix 0..32. */
enum net_status cidr_parse(const char *s, size_t n, uint32_t *addr, uint8_t *prefix);
/* ADDR:PORT, port 1..65535. */
enum net_status endpoint_parse(const char *s, size_t n, uint32_t *addr, uint16_t *port);
const char *net_status_text(enum net_status st);

void ipv4_format(struct strbuf *sb, uint32_t addr);
void cidr_format(struct strbuf *sb, uint32_t addr, uint8_t prefix);

uint32_t cidr_mask(uint8_t prefix);
uint32_t cidr_network(uint32_t addr, uint8_t prefix);
uint32_t cidr_broadcast(uint32_t addr, uint8_t prefix);
bool cidr_contains(uint32_t net, uint8_t prefix, uint32_t addr);
bool cidr_overlaps(uint32_t a, uint8_t pa, uint32_t b, uint8_t pb);

/* Sizes: DIGITS followed by K M G T or KiB MiB GiB TiB (binary in both
 * spellings). Durations: DIGITS followed by s, m or h; stored in seconds. */
enum net_status size_parse(const char *s, size_t n, uint64_t *bytes);
enum net_status duration_parse(const char *s, size_t n, uint64_t *seconds);
/* Plain non-negative decimal integer that fits in int64. */
enum net_status int_parse(const char *s, size_t n, uint64_t *out);

#endif
