#include "schema.h"
#include "xalloc.h"

#include <string.h>

#define N(arr) (sizeof(arr) / sizeof((arr)[0]))
#define ATTRS(arr) arr, N(arr)

static const char *const roles[] = { "control", "worker", NULL };
static const char *const encryptions[] = { "wireguard", "none", NULL };
static const char *const ingresses[] = { "gateway_api", "ingress_controller", "none", NULL };
static const char *const syncs[] = { "auto", "manual", NULL };
static const char *const bioses[] = { "ovmf", "seabios", NULL };

static const struct sattr ssh_cluster[] = {
	{ "user", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "key", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "public_key", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "port", S_INT, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_ssh_cluster = { "ssh", NAME_NONE, 1, false, ATTRS(ssh_cluster), false };

static const struct sattr upgrade[] = {
	{ "workers_at_once", S_INT, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_upgrade = { "upgrade", NAME_NONE, 1, false, ATTRS(upgrade), false };

static const struct sattr cluster[] = {
	{ "kubernetes", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "crio", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "domain", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "pod_cidr", S_CIDR, 0, 0, NULL, NULL, NULL },
	{ "service_cidr", S_CIDR, 0, 0, NULL, NULL, NULL },
	{ "control_endpoint", S_IPV4, 0, 0, NULL, NULL, NULL },
	{ "ssh", S_BLOCK, 0, 0, NULL, &b_ssh_cluster, NULL },
	{ "upgrade", S_BLOCK, 0, 0, NULL, &b_upgrade, NULL },
};

static const struct sattr proxmox[] = {
	{ "endpoint", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "node", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "user", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "password", S_SECRET, 0, 0, NULL, NULL, NULL },
	{ "token_id", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "token", S_SECRET, 0, 0, NULL, NULL, NULL },
	{ "storage", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "iso_storage", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "bridge", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "verify_tls", S_BOOL, 0, 0, NULL, NULL, NULL },
	{ "ca_file", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "fingerprint", S_STRING, 0, 0, NULL, NULL, NULL },
};

static const struct sattr image[] = {
	{ "iso", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "sha256", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "locale", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "keyboard", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "timezone", S_STRING, 0, 0, NULL, NULL, NULL },
};

static const struct sattr network[] = {
	{ "gateway", S_IPV4, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "nameservers", S_LIST, 0, S_IPV4, NULL, NULL, NULL },
	{ "lb_pool", S_CIDR, 0, 0, NULL, NULL, NULL },
	{ "encryption", S_ENUM, 0, 0, encryptions, NULL, NULL },
	{ "ingress", S_ENUM, 0, 0, ingresses, NULL, NULL },
	{ "l2_interfaces", S_LIST, 0, S_STRING, NULL, NULL, NULL },
};

static const struct sattr gpu[] = {
	{ "pci", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "mapping", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "model", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "driver", S_STRING, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_gpu = { "gpu", NAME_NONE, 1, false, ATTRS(gpu), false };

static const struct sattr vm[] = {
	{ "on", S_REF, F_REQUIRED, 0, NULL, NULL, "proxmox" },
	{ "id", S_INT, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "cores", S_INT, 0, 0, NULL, NULL, NULL },
	{ "memory", S_SIZE, 0, 0, NULL, NULL, NULL },
	{ "disk", S_SIZE, 0, 0, NULL, NULL, NULL },
	{ "storage", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "image", S_REF, 0, 0, NULL, NULL, "image" },
	{ "bios", S_ENUM, 0, 0, bioses, NULL, NULL },
	{ "install_timeout", S_DURATION, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_vm = { "vm", NAME_NONE, 1, false, ATTRS(vm), false };

static const struct sattr ssh_node[] = {
	{ "host", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "port", S_INT, 0, 0, NULL, NULL, NULL },
	{ "user", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "key", S_STRING, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_ssh_node = { "ssh", NAME_NONE, 1, false, ATTRS(ssh_node), false };

static const struct sattr node[] = {
	{ "role", S_ENUM, F_REQUIRED, 0, roles, NULL, NULL },
	{ "ip", S_HOSTADDR, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "labels", S_MAP, 0, 0, NULL, NULL, NULL },
	{ "taints", S_LIST, 0, S_STRING, NULL, NULL, NULL },
	{ "gpu", S_BLOCK, 0, 0, NULL, &b_gpu, NULL },
	{ "vm", S_BLOCK, 0, 0, NULL, &b_vm, NULL },
	{ "ssh", S_BLOCK, 0, 0, NULL, &b_ssh_node, NULL },
};

static const struct sattr ceph[] = {
	{ "fsid", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "monitors", S_LIST, F_REQUIRED, S_ENDPOINT, NULL, NULL, NULL },
	{ "user", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "key", S_SECRET, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "admin_key", S_SECRET, 0, 0, NULL, NULL, NULL },
	{ "csi_version", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "default_class", S_BOOL, 0, 0, NULL, NULL, NULL },
	{ "fs_name", S_STRING, 0, 0, NULL, NULL, NULL },
};

static const struct sattr argocd[] = {
	{ "repo", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "token", S_SECRET, 0, 0, NULL, NULL, NULL },
	{ "host", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "project", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "version", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "repo_host_keys", S_LIST, 0, S_STRING, NULL, NULL, NULL },
};

static const struct sattr app[] = {
	{ "path", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "namespace", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "repo", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "revision", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "sync", S_ENUM, 0, 0, syncs, NULL, NULL },
	{ "prune", S_BOOL, 0, 0, NULL, NULL, NULL },
	{ "self_heal", S_BOOL, 0, 0, NULL, NULL, NULL },
};

static const struct sattr prometheus[] = {
	{ "retention", S_DURATION, 0, 0, NULL, NULL, NULL },
	{ "storage", S_SIZE, 0, 0, NULL, NULL, NULL },
	{ "host", S_STRING, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_prometheus = { "prometheus", NAME_NONE, 1, false, ATTRS(prometheus), false };
static const struct sattr grafana[] = {
	{ "host", S_STRING, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_grafana = { "grafana", NAME_NONE, 1, false, ATTRS(grafana), false };
static const struct sattr alertmanager[] = {
	{ "host", S_STRING, 0, 0, NULL, NULL, NULL },
	{ "repeat_interval", S_DURATION, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_alertmanager = { "alertmanager", NAME_NONE, 1, false, ATTRS(alertmanager), false };
static const struct sattr matrix[] = {
	{ "host", S_STRING, F_REQUIRED, 0, NULL, NULL, NULL },
	{ "room", S_STRING, 0, 0, NULL, NULL, NULL },
};
static const struct sblock b_matrix = { "matrix", NAME_NONE, 1, false, ATTRS(matrix), false };

static const struct sattr monitoring[] = {
	{ "gpu_temperature_alert", S_INT, 0, 0, NULL, NULL, NULL },
	{ "prometheus", S_BLOCK, 0, 0, NULL, &b_prometheus, NULL },
	{ "grafana", S_BLOCK, 0, 0, NULL, &b_grafana, NULL },
	{ "alertmanager", S_BLOCK, 0, 0, NULL, &b_alertmanager, NULL },
	{ "matrix", S_BLOCK, 0, 0, NULL, &b_matrix, NULL },
};

static const struct sblock top[] = {
	{ "cluster", NAME_REQUIRED, 1, true, ATTRS(cluster), false },
	{ "proxmox", NAME_REQUIRED, 0, false, ATTRS(proxmox), false },
	{ "image", NAME_REQUIRED, 0, false, ATTRS(image), false },
	{ "network", NAME_NONE, 1, false, ATTRS(network), false },
	{ "node", NAME_REQUIRED, 0, true, ATTRS(node), false },
	{ "ceph", NAME_NONE, 1, false, ATTRS(ceph), false },
	{ "argocd", NAME_NONE, 1, false, ATTRS(argocd), false },
	{ "app", NAME_REQUIRED, 0, false, ATTRS(app), false },
	{ "monitoring", NAME_NONE, 1, false, ATTRS(monitoring), false },
	{ "versions", NAME_NONE, 1, false, NULL, 0, true },
};

const struct sblock *schema_top(const char *type)
{
	for (size_t i = 0; i < N(top); i++)
		if (!strcmp(top[i].type, type))
			return &top[i];
	return NULL;
}

const struct sattr *schema_attr(const struct sblock *b, const char *name)
{
	for (size_t i = 0; i < b->nattrs; i++)
		if (!strcmp(b->attrs[i].name, name))
			return &b->attrs[i];
	return NULL;
}

const char **schema_top_names(size_t *n)
{
	const char **out = xcalloc(N(top), sizeof(*out));
	for (size_t i = 0; i < N(top); i++)
		out[i] = top[i].type;
	*n = N(top);
	return out;
}

const char **schema_attr_names(const struct sblock *b, size_t *n)
{
	const char **out = xcalloc(b->nattrs + 1, sizeof(*out));
	for (size_t i = 0; i < b->nattrs; i++)
		out[i] = b->attrs[i].name;
	*n = b->nattrs;
	return out;
}

const char *schema_type_phrase(const struct sattr *a)
{
	switch (a->type) {
	case S_STRING: return "a string";
	case S_INT: return "an integer";
	case S_SIZE: return "a size such as 8GiB";
	case S_DURATION: return "a duration such as 30s, 5m or 2h";
	case S_BOOL: return "true or false";
	case S_IPV4: return "an IPv4 address such as 192.168.1.1";
	case S_CIDR: return "a CIDR such as 10.244.0.0/16";
	case S_HOSTADDR: return "an address such as 192.168.1.180/24";
	case S_ENDPOINT: return "an endpoint such as 192.168.1.10:6789";
	case S_REF: return "the name of a block";
	case S_ENUM: return "one of its words";
	case S_SECRET: return "secret(\"NAME\")";
	case S_LIST: return "a list";
	case S_MAP: return "a map";
	case S_BLOCK: return "a block";
	}
	return "a value";
}
