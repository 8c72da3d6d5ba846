/* Small helpers of tandem-init: logging, files, the key=value config format, users. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tandem.h"

/* Writes one "tandem-init: ..." line to the console (the serial log). */
void logmsg(const char *fmt, ...) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "tandem-init: ");
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(buf + n, sizeof buf - n - 2, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 2) n = sizeof buf - 2;
  buf[n++] = '\n';
  int fd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) fd = dup(2);
  if (fd >= 0) {
    ssize_t w = write(fd, buf, n);
    (void)w;
    close(fd);
  }
}

/* Reads a whole file into a NUL-terminated heap buffer; NULL on error. */
char *read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (n + 1 >= cap) buf = realloc(buf, cap *= 2);
    ssize_t r = read(fd, buf + n, cap - n - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += r;
  }
  close(fd);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

/* Writes `text` to an existing file (sysfs, cgroupfs); 0 on success. */
int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t w = write(fd, text, strlen(text));
  close(fd);
  return w == (ssize_t)strlen(text) ? 0 : -1;
}

/* Undoes the host's escaping in place: "\n" -> newline, "\\" -> backslash. */
char *unescape(char *s) {
  char *r = s, *w = s;
  while (*r) {
    if (r[0] == '\\' && r[1] == 'n') {
      *w++ = '\n';
      r += 2;
    } else if (r[0] == '\\' && r[1] == '\\') {
      *w++ = '\\';
      r += 2;
    } else {
      *w++ = *r++;
    }
  }
  *w = 0;
  return s;
}

/* Applies one key of a process spec; returns 1 when the key belongs to a process spec. */
int parse_spec_line(struct proc_spec *p, char *key, char *val) {
  if (!strcmp(key, "arg")) {
    if (p->argc < MAX_ARGS) p->argv[p->argc++] = val;
  } else if (!strcmp(key, "env")) {
    if (p->envc < MAX_ENV) p->envp[p->envc++] = val;
  } else if (!strcmp(key, "cwd")) {
    p->cwd = val;
  } else if (!strcmp(key, "user")) {
    p->user = val;
  } else if (!strcmp(key, "tty")) {
    p->tty = atoi(val);
  } else if (!strcmp(key, "stdin")) {
    p->use_stdin = atoi(val);
  } else if (!strcmp(key, "cols")) {
    p->cols = atoi(val);
  } else if (!strcmp(key, "rows")) {
    p->rows = atoi(val);
  } else {
    return 0;
  }
  return 1;
}

/* Splits "key=value" lines in place and calls `fn` on each; keys without '=' are skipped. */
static void each_line(char *text, void (*fn)(void *, char *, char *), void *ctx) {
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = 0;
    fn(ctx, line, unescape(eq + 1));
  }
}

static void config_line(void *ctx, char *key, char *val) {
  struct config *c = ctx;
  if (parse_spec_line(&c->proc, key, val)) return;
  if (!strcmp(key, "mode")) c->mode = val;
  else if (!strcmp(key, "root")) c->root = val;
  else if (!strcmp(key, "rootfstype")) c->rootfstype = val;
  else if (!strcmp(key, "hostname")) c->hostname = val;
  else if (!strcmp(key, "modules")) c->modules = val;
  else if (!strcmp(key, "grow")) c->grow = atoi(val);
  else if (!strcmp(key, "pids")) c->pids = atol(val);
  else if (!strcmp(key, "console_shell")) c->console_shell = atoi(val);
  else if (!strcmp(key, "debug")) c->debug = atoi(val);
  else if (!strcmp(key, "mount") && c->nmounts < 16) c->mounts[c->nmounts++] = val;
  else if (!strcmp(key, "sandbox")) c->sandbox = atoi(val);
  else if (!strcmp(key, "memory")) c->memory = atoll(val);
  else if (!strcmp(key, "caps")) c->has_caps = 1, c->caps = strtoull(val, NULL, 16);
  else if (!strcmp(key, "nnp")) c->nnp = atoi(val);
  else if (!strcmp(key, "ro_root")) c->ro_root = atoi(val);
  else if (!strcmp(key, "hosts")) c->hosts = val;
  else if (!strcmp(key, "net")) c->net = val;
  else if (!strcmp(key, "gateway")) c->gateway = val;
  else if (!strcmp(key, "dns")) c->dns = val;
  else if (!strcmp(key, "hosts_file")) c->hosts_file = val;
}

/* Parses the boot config; fields keep pointing into `text`. */
int parse_config(char *text, struct config *c) {
  memset(c, 0, sizeof *c);
  c->mode = "workload";
  c->root = "";
  c->rootfstype = "ext4";
  c->hostname = "";
  c->modules = "";
  c->hosts = "";
  c->net = c->gateway = c->dns = c->hosts_file = "";
  c->proc.cwd = "/";
  c->proc.user = "0:0";
  each_line(text, config_line, c);
  c->proc.argv[c->proc.argc] = NULL;
  c->proc.envp[c->proc.envc] = NULL;
  return 0;
}

static void spec_line(void *ctx, char *key, char *val) { parse_spec_line(ctx, key, val); }

/* Parses an exec request's spec; fields keep pointing into `text`. */
int parse_spec(char *text, struct proc_spec *p) {
  memset(p, 0, sizeof *p);
  p->cwd = "/";
  p->user = "0:0";
  each_line(text, spec_line, p);
  p->argv[p->argc] = NULL;
  p->envp[p->envc] = NULL;
  return p->argc > 0 ? 0 : -1;
}

/* Looks `name` up in /etc/passwd (field 0 or, for groups, /etc/group). */
static int lookup_id(const char *file, const char *name, long *id, long *gid, char **home) {
  char *text = read_file(file, NULL);
  if (!text) return -1;
  int found = -1;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line && found; line = strtok_r(NULL, "\n", &save)) {
    char *f[7] = {0};
    int n = 0;
    for (char *p = line; n < 7; n++) {
      f[n] = p;
      p = strchr(p, ':');
      if (!p) { n++; break; }
      *p++ = 0;
    }
    if (n < 3 || strcmp(f[0], name)) continue;
    *id = atol(f[2]);
    if (gid && n >= 4) *gid = atol(f[3]);
    if (home && n >= 6) *home = strdup(f[5]);
    found = 0;
  }
  free(text);
  return found;
}

static int numeric(const char *s) { return *s && strspn(s, "0123456789") == strlen(s); }

/* Resolves "uid[:gid]" or "name[:group]" against the guest's files; -1 when unknown. */
int resolve_user(const char *user, uid_t *uid, gid_t *gid, const char **home) {
  char u[256], *g;
  snprintf(u, sizeof u, "%s", *user ? user : "0");
  g = strchr(u, ':');
  if (g) *g++ = 0;
  long id = 0, pgid = -1;
  char *h = NULL;
  if (numeric(u)) {
    id = atol(u);
  } else if (lookup_id("/etc/passwd", u, &id, &pgid, &h)) {
    return -1;
  }
  if (g && numeric(g)) pgid = atol(g);
  else if (g && lookup_id("/etc/group", g, &pgid, NULL, NULL)) return -1;
  if (pgid < 0) pgid = id == 0 ? 0 : id;
  *uid = id;
  *gid = pgid;
  if (home) *home = h ? h : (id == 0 ? "/root" : "/");
  return 0;
}

/* Sets O_NONBLOCK on `fd`. */
int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Finds the /dev node of the virtio-serial port called `name`; 0 when found. */
int find_port(const char *name, char *path, size_t n) {
  DIR *d = opendir("/sys/class/virtio-ports");
  if (!d) return -1;
  struct dirent *e;
  int rc = -1;
  while ((e = readdir(d)) && rc) {
    if (e->d_name[0] == '.') continue;
    char p[300];
    snprintf(p, sizeof p, "/sys/class/virtio-ports/%s/name", e->d_name);
    char *v = read_file(p, NULL);
    if (!v) continue;
    v[strcspn(v, "\n")] = 0;
    if (!strcmp(v, name)) {
      snprintf(path, n, "/dev/%s", e->d_name);
      rc = 0;
    }
    free(v);
  }
  closedir(d);
  return rc;
}

/* Like find_port, waiting up to `ms` for the port to appear (ports are announced asynchronously). */
int wait_port(const char *name, char *path, size_t n, int ms) {
  for (int i = 0; i <= ms / 2; i++) {
    if (!find_port(name, path, n)) return 0;
    usleep(2000);
  }
  return -1;
}

/* Seconds since boot, from /proc/uptime. */
double uptime_s(void) {
  char *v = read_file("/proc/uptime", NULL);
  double t = v ? atof(v) : 0;
  free(v);
  return t;
}

/* Creates `dir` and its missing parents (mode 0755), as crun does for a container's working
 * directory: the workload's --workdir need not exist in the image. Errors are left for chdir. */
void ensure_dir(const char *dir) {
  if (!dir || *dir != '/') return;
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) return;
  for (char *p = path + 1;; p++) {
    if (*p == '/' || *p == 0) {
      char c = *p;
      *p = 0;
      if (mkdir(path, 0755) < 0 && errno != EEXIST) return;
      *p = c;
      if (!c) return;
    }
  }
}
