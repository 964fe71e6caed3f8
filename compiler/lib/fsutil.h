/* fsutil: the file-system helpers the compiler (writing out/) and the runner
 * (its state and artifacts) share. Each returns 0, or -1 with errno set, and
 * leaves the message to the caller, who knows what the path is for. */
#ifndef CLUSTERC_FSUTIL_H
#define CLUSTERC_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Creates path and any missing parents with mode; an existing folder is fine.
 * Tries the folder itself first, so a tree of 10,000 node folders costs about
 * one mkdir per folder rather than one per path component. */
int mkdir_p(const char *path, mode_t mode);
/* Removes a file or a whole tree without following symlinks. */
int rm_rf(const char *path);
/* write(2) until all len bytes are written, across EINTR and short writes. */
int write_all(int fd, const void *data, size_t len);
/* fsync(2) of a folder: makes the renames and creations in it durable. */
int fsync_dir(const char *path);
/* Replaces path with data (mode 0644) so a reader sees the old content or
 * the new, never a part: written to path.tmp, flushed, then renamed. */
int write_file_atomic(const char *path, const char *data, size_t len);
/* write_file_atomic with the new file's permission bits: a file rewritten in
 * place (clusterc fmt -w) keeps the mode it had. */
int write_file_atomic_mode(const char *path, const char *data, size_t len, mode_t mode);
/* A temporary tree a process writes (an out/ tree being built, a FILE
 * form's build): lock_tree flocks it and returns the descriptor that holds
 * the lock until closed or the process ends, however it ends. */
int lock_tree(const char *path);
/* Removes every folder parent/prefix* that this user owns, that is at least
 * min_age seconds old (the moment between another process's mkdtemp and its
 * lock_tree) and that no process holds a lock_tree on: the leftovers of
 * killed processes. */
void rm_stale_trees(const char *parent, const char *prefix, int min_age);

#endif
