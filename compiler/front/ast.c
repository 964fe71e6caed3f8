#include "ast.h"

struct ast_seq ast_seq_empty(void)
{
	return (struct ast_seq){ NULL, NULL, 0 };
}

struct ast_seq ast_seq_append(struct ast_seq s, struct ast_node *n)
{
	if (!n)
		return s;
	n->next = NULL;
	if (s.tail)
		s.tail->next = n;
	else
		s.head = n;
	s.tail = n;
	s.count++;
	return s;
}

static struct ast_node *node(struct arena *a, enum ast_kind kind, struct loc loc)
{
	struct ast_node *n = arena_alloc(a, sizeof(*n));
	n->kind = kind;
	n->loc = loc;
	return n;
}

struct ast_node *ast_block(struct arena *a, struct loc loc, const char *type, struct loc type_loc,
			   const char *name, struct loc name_loc, struct ast_seq body)
{
	struct ast_node *n = node(a, AST_BLOCK, loc);
	n->u.block.type = type;
	n->u.block.type_loc = type_loc;
	n->u.block.name = name;
	n->u.block.name_loc = name_loc;
	n->u.block.body = body.head;
	return n;
}

struct ast_node *ast_attr(struct arena *a, struct loc loc, const char *name, struct loc name_loc,
			  struct ast_node *value)
{
	struct ast_node *n = node(a, AST_ATTR, loc);
	n->u.attr.name = name;
	n->u.attr.name_loc = name_loc;
	n->u.attr.value = value;
	return n;
}

struct ast_node *ast_import(struct arena *a, struct loc loc, const char *path)
{
	struct ast_node *n = node(a, AST_IMPORT, loc);
	n->u.str = path;
	return n;
}

struct ast_node *ast_string(struct arena *a, struct loc loc, const char *s)
{
	struct ast_node *n = node(a, AST_STRING, loc);
	n->u.str = s;
	return n;
}

struct ast_node *ast_syntax_error(struct arena *a, struct loc loc)
{
	struct ast_node *n = ast_string(a, loc, "");
	n->poisoned = true;
	return n;
}

struct ast_node *ast_number(struct arena *a, struct loc loc, enum ast_kind kind, uint64_t v)
{
	struct ast_node *n = node(a, kind, loc);
	n->u.num = v;
	return n;
}

struct ast_node *ast_bool(struct arena *a, struct loc loc, bool v)
{
	struct ast_node *n = node(a, AST_BOOL, loc);
	n->u.boolean = v;
	return n;
}

struct ast_node *ast_ip(struct arena *a, struct loc loc, enum ast_kind kind, uint32_t addr,
			uint8_t prefix, uint16_t port)
{
	struct ast_node *n = node(a, kind, loc);
	n->u.ip.addr = addr;
	n->u.ip.prefix = prefix;
	n->u.ip.port = port;
	return n;
}

struct ast_node *ast_ref(struct arena *a, struct loc loc, const char *name)
{
	struct ast_node *n = node(a, AST_REF, loc);
	n->u.str = name;
	return n;
}

struct ast_node *ast_list(struct arena *a, struct loc loc, enum ast_kind kind, struct ast_seq items)
{
	struct ast_node *n = node(a, kind, loc);
	n->u.list.items = items.head;
	n->u.list.count = items.count;
	return n;
}

struct ast_node *ast_call(struct arena *a, struct loc loc, const char *fn, struct loc fn_loc,
			  struct ast_seq args)
{
	struct ast_node *n = node(a, AST_CALL, loc);
	n->u.call.fn = fn;
	n->u.call.fn_loc = fn_loc;
	n->u.call.args = args.head;
	n->u.call.nargs = args.count;
	return n;
}

struct ast_node *ast_concat(struct arena *a, struct loc loc, struct ast_node *lhs, struct ast_node *rhs)
{
	struct ast_node *n = node(a, AST_CONCAT, loc);
	n->u.concat.lhs = lhs;
	n->u.concat.rhs = rhs;
	return n;
}

struct loc loc_span(struct loc a, struct loc b)
{
	if (a.file != b.file || b.end < a.start)
		return a;
	return (struct loc){ .file = a.file, .start = a.start, .end = b.end };
}

const char *ast_kind_phrase(enum ast_kind k)
{
	switch (k) {
	case AST_BLOCK: return "a block";
	case AST_ATTR: return "an attribute";
	case AST_IMPORT: return "an import";
	case AST_STRING: return "a string";
	case AST_INT: return "an integer";
	case AST_SIZE: return "a size";
	case AST_DURATION: return "a duration";
	case AST_BOOL: return "a boolean";
	case AST_IPV4: return "an IPv4 address";
	case AST_CIDR: return "a CIDR";
	case AST_ENDPOINT: return "an endpoint";
	case AST_REF: return "a name";
	case AST_LIST: return "a list";
	case AST_MAP: return "a map";
	case AST_CALL: return "a function call";
	case AST_CONCAT: return "a string";
	case AST_SECRET: return "a secret";
	}
	return "a value";
}
