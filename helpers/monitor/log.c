/* The capped, rotated log the monitor writes (see monitor.h). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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
  while (l->max > 0 && l->size + (long long)n > l->max) {
    /* fill the file up to the cap, cutting after the last whole line that fits, then rotate */
    size_t room = l->size < l->max ? (size_t)(l->max - l->size) : 0;
    const char *nl = room ? memrchr(buf, '\n', room) : NULL;
    size_t take = nl ? (size_t)(nl - buf + 1) : room;
    if (take > 0 && write_all(l->fd, buf, take) == 0) l->size += (long long)take;
    buf += take;
    n -= take;
    log_rotate(l);
    if (l->size != 0) break; /* rotation failed: append the rest rather than lose it */
  }
  if (n > 0 && write_all(l->fd, buf, n) == 0) l->size += (long long)n;
}
