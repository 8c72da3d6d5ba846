/* The capped, rotated log the monitor writes (see monitor.h). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monitor.h"
#include "util.h"

int log_open(struct log *l, const char *path, long long max) {
  l->path = path;
  l->max = max;
  l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (l->fd < 0) return -1;
  struct stat st;
  l->size = fstat(l->fd, &st) == 0 ? st.st_size : 0;
  return 0;
}

static void log_rotate(struct log *l) {
  char old[4096];
  snprintf(old, sizeof old, "%s.1", l->path);
  if (rename(l->path, old) < 0) return;
  int fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return;
  close(l->fd);
  l->fd = fd;
  l->size = 0;
}

void log_write(struct log *l, const char *buf, size_t n) {
  if (l->fd < 0) return;
  if (l->max > 0 && l->size > 0 && l->size + (long long)n > l->max) log_rotate(l);
  if (write_all(l->fd, buf, n) == 0) l->size += (long long)n;
}
