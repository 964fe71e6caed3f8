/* schema: the v0 block and attribute schema of LANGUAGE.md, as a table. The
 * checker walks it; "did you mean" draws its candidates from it. */
#ifndef CLUSTERC_SCHEMA_H
#define CLUSTERC_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

enum stype {
	S_STRING,
	S_INT,
	S_SIZE,
	S_DURATION,
	S_BOOL,
	S_IPV4,
	S_CIDR,       /* a network: host bits must be zero */
	S_HOSTADDR,   /* a node address: IPv4, or IPv4 with its prefix */
	S_ENDPOINT,   /* IPv4:port, or IPv4 (a default port applies) */
	S_REF,        /* the name of another block, of sattr.ref_type */
	S_ENUM,       /* one of sattr.words, written bare or quoted */
	S_SECRET,     /* must be secret("NAME") */
	S_LIST,       /* of sattr.elem */
	S_MAP,        /* string keys to string values */
	S_BLOCK,      /* a nested block described by sattr.block */
};

enum { F_REQUIRED = 1, F_SECRET_OK = 2 };

struct sblock;

struct sattr {
	const char *name;
	enum stype type;
	unsigned flags;
	enum stype elem;            /* S_LIST element type */
	const char *const *words;   /* S_ENUM, NULL-terminated */
	const struct sblock *block; /* S_BLOCK */
	const char *ref_type;       /* S_REF: the block type named */
};

enum naming { NAME_NONE, NAME_REQUIRED };

struct sblock {
	const char *type;
	enum naming naming;
	int max_count;              /* 0: any number; 1: at most one */
	bool required;              /* at least one must exist */
	const struct sattr *attrs;
	size_t nattrs;
	bool open;                  /* any attribute name (versions) */
};

const struct sblock *schema_top(const char *type);
const struct sattr *schema_attr(const struct sblock *b, const char *name);
/* Candidate lists for suggestions; the caller frees the array only. */
const char **schema_top_names(size_t *n);
const char **schema_attr_names(const struct sblock *b, size_t *n);
const char *schema_type_phrase(const struct sattr *a);

#endif
