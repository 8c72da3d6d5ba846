/*
 * Idmapped image layers for a container in a user namespace (`--userns auto`): each lower dir
 * of the overlay is bind-mounted with MOUNT_ATTR_IDMAP (container id 0 = host id HOST, COUNT
 * ids), so files the image owns as root appear owned by the container's root, without copying
 * or chowning the shared layers. The overlay is then mounted over these bind mounts (Linux >= 5.19
 * accepts idmapped lower layers). The user namespace that carries the mapping belongs to a
 * short-lived child: only its file descriptor is needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* musl has no <linux/mount.h>: the new mount API's numbers (x86_64 and every arch since 5.2) */
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#define T_OPEN_TREE_CLONE 1
#define T_OPEN_TREE_CLOEXEC O_CLOEXEC
#define T_MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#define T_MOUNT_ATTR_IDMAP 0x00100000
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif
struct t_mount_attr {
  unsigned long long attr_set, attr_clr, propagation, userns_fd;
};

#include "monitor.h"
#include "util.h"

static int write_map(pid_t pid, const char *file, long host, long count) {
  char path[64], map[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  int n = snprintf(map, sizeof map, "0 %ld %ld\n", host, count);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = write_all(fd, map, (size_t)n);
  close(fd);
  return rc;
}

/* A user namespace fd mapping 0..count-1 to host..host+count-1, or -1 (errno set). */
static int userns_fd(long host, long count) {
  int ready[2], go[2];
  if (pipe2(ready, O_CLOEXEC) < 0) return -1;
  if (pipe2(go, O_CLOEXEC) < 0) return -1;
  pid_t c = fork();
  if (c < 0) return -1;
  if (c == 0) {
    close(go[1]);
    close(ready[0]);
    char b = unshare(CLONE_NEWUSER) < 0 ? 'e' : 'k';
    if (write(ready[1], &b, 1) != 1) _exit(1);
    while (read(go[0], &b, 1) < 0 && errno == EINTR) {}
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  char b = 0;
  while (read(ready[0], &b, 1) < 0 && errno == EINTR) {}
  close(ready[0]);
  int fd = -1, err = EPERM;
  if (b == 'k' && write_map(c, "uid_map", host, count) == 0 && write_map(c, "gid_map", host, count) == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)c);
    fd = open(path, O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) err = errno ? errno : EPERM;
  close(go[1]);
  while (waitpid(c, NULL, 0) < 0 && errno == EINTR) {}
  if (fd < 0) errno = err;
  return fd;
}

static int idmapped_bind(const char *src, const char *dst, int ns) {
  int t = (int)syscall(SYS_open_tree, AT_FDCWD, src, T_OPEN_TREE_CLONE | T_OPEN_TREE_CLOEXEC);
  if (t < 0) return -1;
  struct t_mount_attr a = {.attr_set = T_MOUNT_ATTR_IDMAP, .userns_fd = (unsigned long long)ns};
  int rc = (int)syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &a, sizeof a);
  if (rc == 0) rc = (int)syscall(SYS_move_mount, t, "", AT_FDCWD, dst, T_MOVE_MOUNT_F_EMPTY_PATH);
  int saved = errno;
  close(t);
  errno = saved;
  return rc;
}

int idmap_layers(const char *lower, const char *spec, const char *dir, char *out, size_t cap) {
  char *end = NULL;
  long host = strtol(spec, &end, 10), count = end && *end == ':' ? strtol(end + 1, NULL, 10) : 0;
  if (host <= 0 || count <= 0) {
    errno = EINVAL;
    return -1;
  }
  int ns = userns_fd(host, count);
  if (ns < 0) return -1;
  if (mkdir(dir, 0755) < 0 && errno != EEXIST) return -1;
  char *copy = strdup(lower), *save = NULL;
  size_t used = 0;
  int i = 0, rc = 0;
  out[0] = '\0';
  for (char *l = strtok_r(copy, ":", &save); l && rc == 0; l = strtok_r(NULL, ":", &save), i++) {
    char dst[4096];
    snprintf(dst, sizeof dst, "%s/%d", dir, i);
    if ((mkdir(dst, 0755) < 0 && errno != EEXIST) || idmapped_bind(l, dst, ns) < 0) rc = -1;
    int n = snprintf(out + used, cap - used, "%s%s", i ? ":" : "", dst);
    if (n < 0 || (size_t)n >= cap - used) {
      errno = ENAMETOOLONG;
      rc = -1;
    } else
      used += (size_t)n;
  }
  int saved = errno;
  free(copy);
  close(ns);
  errno = saved;
  return rc;
}
