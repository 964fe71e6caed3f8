/* cmd_import_env: the import-env command, a .cluster written from the
 * reference Ansible project's .env (its variables: shared/seed and
 * SEED-DETAILS). Plain values become literals; secrets become secret("NAME")
 * references, read at apply time from the original .env (the header says to
 * keep it beside the new file); the ENABLE_* flags become the blocks that
 * switch the features on. Every variable not carried over is named on stderr:
 * nothing is dropped silently. The shape the reference project deploys (one
 * control VM and one worker VM on one Proxmox host, sizes from its playbook)
 * is written as clusters/homelab.cluster writes it. */
#include "commands.h"
#include "diag.h"
#include "dotenv.h"
#include "format.h"
#include "fsutil.h"
#include "net.h"
#include "quote.h"
#include "strbuf.h"
#include "xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct importer {
	const struct dotenv *env;
	bool *used;  /* per env->vars entry: carried over */
	struct strbuf out;
};

static void import_help(FILE *out)
{
	fputs("usage: clusterc import-env FILE.env [-o FILE.cluster]\n\n"
	      "Writes a .cluster (to stdout, or FILE.cluster) from the reference Ansible\n"
	      "project's .env: node IPs, SSH, versions, Proxmox, network, Ceph, GPU and\n"
	      "ArgoCD settings. Secrets become secret(\"NAME\") references whose values\n"
	      "stay in FILE.env. Every variable it does not carry over is listed on\n"
	      "stderr. Exit status: 0 written, 2 usage or an unreadable FILE.env.\n", out);
}

/* The value of name, marked as carried over; NULL when unset or empty. */
static const char *take(struct importer *im, const char *name)
{
	for (size_t i = 0; i < im->env->n; i++) {
		if (strcmp(im->env->vars[i].name, name))
			continue;
		im->used[i] = true;
		const char *v = im->env->vars[i].value;
		return *v ? v : NULL;
	}
	return NULL;
}

static bool enabled(struct importer *im, const char *flag)
{
	const char *v = take(im, flag);
	return v && (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"));
}

/* `  name = value` with value a string literal (the .cluster escapes are
 * JSON's \" \\ \n \t), or def when the variable is unset (nothing if NULL). */
static void str_attr(struct importer *im, const char *pad, const char *name, const char *var,
		     const char *def)
{
	const char *v = take(im, var);
	if (!v)
		v = def;
	if (!v)
		return;
	strbuf_addf(&im->out, "%s%s = ", pad, name);
	json_quote(&im->out, v);
	strbuf_addch(&im->out, '\n');
}

/* An address as an IPv4 literal when it is one (with suffix, e.g. "/24"),
 * else as a string, which check then reports at its line. */
static void ip_value(struct importer *im, const char *v, const char *suffix)
{
	uint32_t addr;
	if (ipv4_parse(v, strlen(v), &addr) == NET_OK)
		strbuf_addf(&im->out, "%s%s", v, suffix);
	else
		json_quote(&im->out, v);
}

static void ip_attr(struct importer *im, const char *pad, const char *name, const char *var,
		    const char *suffix)
{
	const char *v = take(im, var);
	if (!v)
		return;
	strbuf_addf(&im->out, "%s%s = ", pad, name);
	ip_value(im, v, suffix);
	strbuf_addch(&im->out, '\n');
}

static void secret_attr(struct importer *im, const char *pad, const char *name, const char *var)
{
	take(im, var);
	strbuf_addf(&im->out, "%s%s = secret(\"%s\")\n", pad, name, var);
}

static void write_cluster(struct importer *im, const char *name)
{
	struct strbuf *o = &im->out;
	strbuf_addf(o, "cluster %s {\n", name);
	str_attr(im, "  ", "kubernetes", "K8S_VERSION", "1.34");
	str_attr(im, "  ", "crio", "CRIO_VERSION", "1.34");
	strbuf_addstr(o, "  domain = \"k8s.local\"\n  ssh {\n");
	str_attr(im, "    ", "user", "K8S_SSH_USER", "ubuntu");
	str_attr(im, "    ", "key", "K8S_SSH_KEY", NULL);
	strbuf_addstr(o, "  }\n}\n\n");

	strbuf_addstr(o, "proxmox pve {\n");
	const char *host = take(im, "PROXMOX_API_HOST");
	strbuf_addstr(o, "  endpoint = ");
	struct strbuf url = STRBUF_INIT;
	strbuf_addf(&url, "https://%s:8006", host ? host : "pve");
	json_quote(o, url.buf);
	strbuf_release(&url);
	strbuf_addch(o, '\n');
	if (take(im, "PROXMOX_TOKEN_NAME")) {
		str_attr(im, "  ", "token_id", "PROXMOX_TOKEN_NAME", NULL);
		secret_attr(im, "  ", "token", "PROXMOX_TOKEN_VALUE");
	} else {
		str_attr(im, "  ", "user", "PROXMOX_API_USER", "root@pam");
		secret_attr(im, "  ", "password", "PROXMOX_API_PASSWORD");
	}
	str_attr(im, "  ", "node", "PROXMOX_NODE", "pve");
	strbuf_addstr(o, "  storage = \"local-lvm\"\n}\n\n");

	strbuf_addstr(o, "network {\n");
	ip_attr(im, "  ", "gateway", "VM_GATEWAY", "");
	const char *ns = take(im, "VM_NAMESERVER");
	if (ns) {
		strbuf_addstr(o, "  nameservers = [");
		ip_value(im, ns, "");
		strbuf_addstr(o, "]\n");
	}
	const char *pool = take(im, "CILIUM_LOADBALANCER_IPPOOL");
	if (pool) {
		strbuf_addf(o, "  lb_pool = %s\n", pool);
	}
	strbuf_addstr(o, "  encryption = wireguard\n");
	if (enabled(im, "ENABLE_GATEWAY_API") | enabled(im, "ENABLE_GATEWAYAPI"))
		strbuf_addstr(o, "  ingress = gateway_api\n");
	strbuf_addstr(o, "}\n\n");

	/* The reference project's two VMs, as its playbook sizes them; the .env
	 * gives only the addresses (the prefix length is the playbook's /24). */
	strbuf_addstr(o, "node k8s-control-1 {\n  role = control\n");
	ip_attr(im, "  ", "ip", "K8S_CONTROL_1_IP", "/24");
	strbuf_addstr(o, "  vm { on = pve  id = 180  cores = 4  memory = 12GiB  disk = 50GiB }\n}\n\n");
	strbuf_addstr(o, "node k8s-node-1 {\n  role = worker\n");
	ip_attr(im, "  ", "ip", "K8S_NODE_1_IP", "/24");
	bool cuda = enabled(im, "ENABLE_CUDA");
	const char *pci = take(im, "GPU_PCI_ADDRESS");
	if (cuda) {
		strbuf_addstr(o, "  gpu { pci = ");
		json_quote(o, pci ? pci : "0000:01:00");
		strbuf_addstr(o, " }\n");
	}
	strbuf_addstr(o, "  vm { on = pve  id = 181  cores = 3  memory = 16GiB  disk = 250GiB }\n}\n");

	if (enabled(im, "ENABLE_CEPH")) {
		strbuf_addstr(o, "\nceph {\n");
		str_attr(im, "  ", "fsid", "CEPH_FSID", NULL);
		const char *mon = take(im, "CEPH_MONITOR");
		if (mon) {
			strbuf_addstr(o, "  monitors = [");
			ip_value(im, mon, strchr(mon, ':') ? "" : ":6789");
			strbuf_addstr(o, "]\n");
		}
		str_attr(im, "  ", "user", "CEPH_K8S_USER", "kubernetes");
		secret_attr(im, "  ", "key", "CEPH_K8S_KEY");
		/* The reference's csi-cephfs-secret has an adminKey too; its .env
		 * names none, so the operator adds CEPH_ADMIN_KEY beside it. */
		secret_attr(im, "  ", "admin_key", "CEPH_ADMIN_KEY");
		str_attr(im, "  ", "csi_version", "CEPH_CSI_VERSION", NULL);
		strbuf_addstr(o, "}\n");
	}
	const char *repo = take(im, "REPOSITORY_SSH_URL");
	if (repo) {
		strbuf_addstr(o, "\nargocd {\n  repo = ");
		json_quote(o, repo);
		strbuf_addch(o, '\n');
		secret_attr(im, "  ", "token", "REPOSITORY_TOKEN");
		str_attr(im, "  ", "version", "ARGOCD_VERSION", NULL);
		strbuf_addstr(o, "}\n");
	}
	const char *cilium = take(im, "CILIUM_VERSION");
	if (cilium) {
		strbuf_addstr(o, "\nversions {\n  cilium = ");
		json_quote(o, cilium);
		strbuf_addstr(o, "\n}\n");
	}
}

int cmd_import_env(int argc, char **argv)
{
	const char *in = NULL, *outpath = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (is_help_flag(a)) {
			import_help(stdout);
			return 0;
		} else if (!strcmp(a, "-o")) {
			if (++i >= argc) {
				fputs("clusterc import-env: option '-o' needs a value\n", stderr);
				return 2;
			}
			outpath = argv[i];
		} else if ((a[0] == '-' && a[1]) || in) {
			import_help(stderr);
			return 2;
		} else {
			in = a;
		}
	}
	if (!in) {
		import_help(stderr);
		return 2;
	}
	struct dotenv env = DOTENV_INIT;
	struct strbuf err = STRBUF_INIT;
	if (dotenv_load_file(&env, in, &err) < 0) {
		fprintf(stderr, "clusterc import-env: %s\n", err.buf);
		strbuf_release(&err);
		dotenv_release(&env);
		return 2;
	}
	strbuf_release(&err);
	struct importer im = { .env = &env, .used = xcalloc(env.n + 1, sizeof(bool)) };
	strbuf_init(&im.out);
	strbuf_addf(&im.out,
		    "# Imported by clusterc import-env from %s.\n"
		    "# Secrets are secret(\"NAME\") references: their values stay in that\n"
		    "# file. Keep it beside this one as .env (or <this file's stem>.env),\n"
		    "# where build and apply read it; the environment wins over it.\n",
		    in);
	const char *name = "homelab";
	write_cluster(&im, name);
	for (size_t i = 0; i < env.n; i++)
		if (!im.used[i])
			fprintf(stderr, "clusterc import-env: %s: %s is not carried over (clusterc has no such setting)\n",
				in, env.vars[i].name);
	/* In fmt's layout (aligned '='), as if the operator had run fmt. */
	struct diag d;
	diag_init(&d);
	size_t len = im.out.len;
	int32_t file = diag_add_source(&d, outpath ? outpath : "<import-env>",
				       strbuf_detach(&im.out, NULL), len);
	struct strbuf text = STRBUF_INIT;
	if (!format_source(&d, file, &text)) {
		/* Only a value fmt cannot parse (a quote in an IP): keep it as is. */
		const struct source *src = diag_source(&d, file);
		strbuf_add(&text, src->text, src->len);
	}
	int rc = 0;
	if (!outpath) {
		fwrite(text.buf, 1, text.len, stdout);
	} else if (write_file_atomic(outpath, text.buf, text.len)) {
		fprintf(stderr, "clusterc import-env: cannot write '%s': %s\n", outpath, strerror(errno));
		rc = 2;
	}
	strbuf_release(&text);
	diag_release(&d);
	free(im.used);
	dotenv_release(&env);
	return rc;
}
