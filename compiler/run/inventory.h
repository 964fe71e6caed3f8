/* inventory: how to reach each node when the operator says so
 * (`--inventory FILE`, format in compiler/README.md). With an inventory, a node
 * without an entry is an error and is never contacted at the address the
 * cluster file gave. */
#ifndef CLUSTERC_INVENTORY_H
#define CLUSTERC_INVENTORY_H

#include <jansson.h>

#include "ssh.h"
#include "strbuf.h"

struct inventory {
	json_t *root;  /* owned */
	char *path;
};

/* Returns 0, or -1 with a message in err. */
int inventory_load(struct inventory *inv, const char *path, struct strbuf *err);
/* Fills h from the entry for name. Returns 0, 1 when there is no entry, -1
 * (message in err) when the entry is malformed. ~ in paths is expanded. */
int inventory_host(const struct inventory *inv, const char *name, struct ssh_host *h,
		   struct strbuf *err);
/* The "proxmox"/"gitlab" overrides as a new object (caller decrefs), or NULL. */
json_t *inventory_overrides(const struct inventory *inv);
void inventory_release(struct inventory *inv);

/* Expands a leading "~/" with $HOME. Returns a new string. */
char *expand_home(const char *path);

#endif
