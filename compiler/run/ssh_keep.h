/* ssh_keep: ssh masters kept between runs (issue 13), so that a plan or an
 * apply a minute after the last one costs a multiplexed round trip per host
 * instead of a key exchange.
 *
 * Where: one directory per user and cluster, $XDG_RUNTIME_DIR/clusterc/<c>/
 * or else ~/.cache/clusterc-ssh/<c>/ (<c>: a hash of the cluster's name).
 * Every directory from the base down must be a real directory (no symlink)
 * of this user (or root, for the base), and the ones clusterc owns mode
 * 0700: a master's socket gives a shell on its host to whoever can connect
 * to it. When any check fails, nothing is kept (the run uses a private
 * directory of its own, as before) and the caller says why.
 *
 * Which master: a socket's name is "<host id>-<config hash>", the host id a
 * hash of the node's name, the config hash one of everything that decides
 * whom the master trusts and how it was opened: the master's command line
 * (address, port, user, identity file, jump host, known_hosts paths,
 * options), the run's ssh_config, the content of the pinned known_hosts
 * files, and the identity file's inode, size and mtime. A changed pin or
 * config gives another name, so an old master is never asked to serve it;
 * the old one is closed (`ssh -O exit`) when the new name is first used.
 * Masters live ControlPersist=SSH_KEEP_IDLE_SECONDS after their last client;
 * the host keys are checked by ssh exactly as before (StrictHostKeyChecking
 * yes against the pinned files), when the master is opened. */
#ifndef CLUSTERC_SSH_KEEP_H
#define CLUSTERC_SSH_KEEP_H

#include "ssh.h"

/* The private directory for cluster's kept masters, created when missing;
 * NULL with the reason in why when there is none to trust (or
 * CLUSTERC_SSH_KEEP=0 turns keeping off: then why stays empty). */
char *keep_dir(const char *cluster, struct strbuf *why);

/* Appends the socket path dir/"<host id>-<config hash>" for h, reached with
 * master_argv (the master's full command line) and the run's ssh_config
 * (may be NULL). */
void keep_socket_path(struct strbuf *out, const char *dir, const struct ssh_host *h,
		      const struct strvec *master_argv, const char *config);

/* Closes every master in dir for h's host id but the one at current: the
 * ones opened with an older pin or config. */
void keep_close_stale(const char *dir, const struct ssh_host *h, const char *current);

/* A run that uses kept masters holds dir/run.<token> flock()ed while it
 * lives, for the next run through the same master: the host sees that
 * master's connection open whether the run that took its lock lives or not.
 * Returns the fd, or -1 with err set. */
int keep_run_hold(const char *dir, const char *token, struct strbuf *err);
/* Whether the run of token still holds its file. */
bool keep_run_alive(const char *dir, const char *token);
void keep_run_release(const char *dir, const char *token, int fd);

/* Closes every kept master of cluster and removes its directory; prints one
 * line per closed master unless quiet. Returns how many it closed, or -1
 * with err set. */
int keep_disconnect(const char *cluster, bool quiet, struct strbuf *err);

#endif
