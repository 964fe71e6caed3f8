/* ast: the syntax tree the grammar builds. Every node carries its location.
 * Nodes live in the compilation's arena. Grammar actions call only the
 * constructors below (STYLE habit 2); the resolver later rewrites expression
 * nodes (env(), file(), +) into literals in place. */
#ifndef CLUSTERC_AST_H
#define CLUSTERC_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "diag.h"

enum ast_kind {
	AST_BLOCK,     /* TYPE [NAME] { body } */
	AST_ATTR,      /* name = value; also a map entry */
	AST_IMPORT,    /* import "path" */
	AST_STRING,
	AST_INT,
	AST_SIZE,      /* bytes */
	AST_DURATION,  /* seconds */
	AST_BOOL,
	AST_IPV4,      /* ip.addr */
	AST_CIDR,      /* ip.addr + ip.prefix (host bits may be set) */
	AST_ENDPOINT,  /* ip.addr + ip.port */
	AST_REF,       /* a bare identifier: a block name or an enum word */
	AST_LIST,
	AST_MAP,       /* entries are AST_ATTR */
	AST_CALL,      /* env(...), secret(...), file(...) */
	AST_CONCAT,    /* lhs + rhs */
	AST_SECRET,    /* after resolution: secret("NAME"), only its name */
};

struct ast_node {
	enum ast_kind kind;
	struct loc loc;
	struct ast_node *next;  /* next sibling in a body, list or argument list */
	/* Set by the resolver on a value it could not compute (a missing env(),
	 * an unreadable file()): later rules skip it instead of piling on. */
	bool poisoned;
	union {
		struct {
			const char *type;
			struct loc type_loc;
			const char *name;  /* NULL when unnamed */
			struct loc name_loc;
			struct ast_node *body;
		} block;
		struct {
			const char *name;
			struct loc name_loc;
			struct ast_node *value;
		} attr;
		const char *str;  /* STRING, REF, SECRET (the name), IMPORT (the path) */
		uint64_t num;     /* INT, SIZE, DURATION */
		bool boolean;
		struct {
			uint32_t addr;
			uint8_t prefix;
			uint16_t port;
		} ip;
		struct {
			struct ast_node *items;
			size_t count;
		} list;           /* LIST, MAP */
		struct {
			const char *fn;
			struct loc fn_loc;
			struct ast_node *args;
			size_t nargs;
		} call;
		struct {
			struct ast_node *lhs, *rhs;
		} concat;
	} u;
};

/* A sequence under construction (body, list, arguments). */
struct ast_seq {
	struct ast_node *head, *tail;
	size_t count;
};

struct ast_seq ast_seq_empty(void);
struct ast_seq ast_seq_append(struct ast_seq s, struct ast_node *n);

struct ast_node *ast_block(struct arena *a, struct loc loc, const char *type, struct loc type_loc,
			   const char *name, struct loc name_loc, struct ast_seq body);
struct ast_node *ast_attr(struct arena *a, struct loc loc, const char *name, struct loc name_loc,
			  struct ast_node *value);
struct ast_node *ast_import(struct arena *a, struct loc loc, const char *path);
struct ast_node *ast_string(struct arena *a, struct loc loc, const char *s);
struct ast_node *ast_number(struct arena *a, struct loc loc, enum ast_kind kind, uint64_t v);
struct ast_node *ast_bool(struct arena *a, struct loc loc, bool v);
struct ast_node *ast_ip(struct arena *a, struct loc loc, enum ast_kind kind, uint32_t addr,
			uint8_t prefix, uint16_t port);
struct ast_node *ast_ref(struct arena *a, struct loc loc, const char *name);
struct ast_node *ast_list(struct arena *a, struct loc loc, enum ast_kind kind, struct ast_seq items);
struct ast_node *ast_call(struct arena *a, struct loc loc, const char *fn, struct loc fn_loc,
			  struct ast_seq args);
struct ast_node *ast_concat(struct arena *a, struct loc loc, struct ast_node *lhs, struct ast_node *rhs);
/* The value of a map, list or call whose inside had a syntax error (reported
 * already): a poisoned empty string, which later rules skip. */
struct ast_node *ast_syntax_error(struct arena *a, struct loc loc);

/* A location spanning from the start of a to the end of b (same file). */
struct loc loc_span(struct loc a, struct loc b);
/* "a string", "an IPv4 address", ... for messages. */
const char *ast_kind_phrase(enum ast_kind k);

#endif
