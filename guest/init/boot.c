/* Boot of tandem-init: mounts, modules, root disk (grown online), switch to it, the workload. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tandem.h"

#define BLKGETSIZE64_ _IOR(0x12, 114, size_t)
#define EXT4_IOC_RESIZE_FS_ _IOW('f', 16, uint64_t)
/* The root share is the guest's alone: cached (writes reach the host within a second in a
 * sandbox, see late_mounts). Extra shares (volumes) may change on the host: not cached. */
#define P9_OPTS "trans=virtio,version=9p2000.L,msize=262144,cache=loose"
#define P9_SHARE_OPTS "trans=virtio,version=9p2000.L,msize=262144"

extern char **environ;

/* The boot configuration (execs and the sandbox read its security settings). */
const struct config *boot_config;
/* The workload's log port, opened once (a virtio-serial port has one opener at a time). */
int boot_logfd = -1;

/* Loads /lib/modules/GROUP.order (one .ko per line, dependencies first); 0 when all loaded. */
static int debug_modules;

/* True when /proc/cpuinfo lists `flag` (TCG's default CPU lacks e.g. sse4_2). */
static int cpu_has(const char *flag) {
  char *info = read_file("/proc/cpuinfo", NULL);
  char pat[64];
  snprintf(pat, sizeof pat, " %s", flag);
  char *hit = info ? strstr(info, pat) : NULL;
  int yes = hit && (hit[strlen(pat)] == ' ' || hit[strlen(pat)] == '\n');
  free(info);
  return yes;
}

int load_module_group(const char *group) {
  char path[256];
  snprintf(path, sizeof path, "/lib/modules/%s.order", group);
  char *list = read_file(path, NULL);
  if (!list) return -1;
  int rc = 0;
  char *save = NULL;
  static char loaded[4096] = "\n";
  for (char *m = strtok_r(list, "\n", &save); m; m = strtok_r(NULL, "\n", &save)) {
    char key[128];
    snprintf(key, sizeof key, "\n%s\n", m);
    if (strstr(loaded, key)) continue; /* finit_module reads a whole module before EEXIST */
    if (strlen(loaded) + strlen(m) + 2 < sizeof loaded) strcat(strcat(loaded, m), "\n");
    if (!strcmp(m, "crc32c-intel.ko") && !cpu_has("sse4_2")) continue;
    snprintf(path, sizeof path, "/lib/modules/%s", m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue; /* already freed after the switch, or absent */
    double t0 = debug_modules ? uptime_s() : 0;
    if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST && errno != ENODEV) {
      logmsg("loading %s: %s", m, strerror(errno));
      rc = -1;
    }
    if (debug_modules) logmsg("module %s: %.0f ms", m, (uptime_s() - t0) * 1000);
    close(fd);
  }
  free(list);
  return rc;
}

static void load_modules(const struct config *c) {
  debug_modules = c->debug > 1;
  DIR *pci = opendir("/sys/bus/pci/devices");
  struct dirent *e;
  int has_pci = 0;
  while (pci && (e = readdir(pci))) has_pci |= e->d_name[0] != '.';
  if (pci) closedir(pci);
  load_module_group(has_pci ? "pci" : "mmio");
  load_module_group("base");
  if (!strncmp(c->root, "/dev/", 5)) load_module_group("blk");
  if (!strncmp(c->root, "9p:", 3) || strstr(c->modules, "9p") || c->nmounts) load_module_group("9p");
  char extra[256];
  snprintf(extra, sizeof extra, "%s", c->modules);
  char *save = NULL;
  for (char *g = strtok_r(extra, ",", &save); g; g = strtok_r(NULL, ",", &save)) load_module_group(g);
}

static void wait_for(const char *path, int ms) {
  for (int i = 0; i < ms / 5 && access(path, F_OK); i++) usleep(5000);
}

/* Grows the mounted ext4 at `dir` to the size of `dev` (online resize, as resize2fs does). */
static void grow_fs(const char *dev, const char *dir) {
  uint64_t bytes = 0;
  struct statfs sf;
  int bd = open(dev, O_RDONLY | O_CLOEXEC);
  if (bd < 0 || ioctl(bd, BLKGETSIZE64_, &bytes) || statfs(dir, &sf)) {
    if (bd >= 0) close(bd);
    return;
  }
  close(bd);
  uint64_t blocks = bytes / (uint64_t)sf.f_bsize;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0 && ioctl(fd, EXT4_IOC_RESIZE_FS_, &blocks) && errno != EINVAL) logmsg("growing %s: %s", dir, strerror(errno));
  if (fd >= 0) close(fd);
}

static int mount_root(const struct config *c) {
  mkdir("/newroot", 0755);
  if (!strncmp(c->root, "9p:", 3)) {
    return mount(c->root + 3, "/newroot", "9p", 0, P9_OPTS);
  }
  wait_for(c->root, 5000);
  if (mount(c->root, "/newroot", c->rootfstype, 0, NULL)) return -1;
  if (c->grow) grow_fs(c->root, "/newroot");
  return 0;
}

/* Frees the initramfs files we no longer need (what busybox switch_root does, shallowly). */
static void free_initramfs(void) {
  const char *dirs[] = {"/lib/modules", "/bin", NULL};
  for (int i = 0; dirs[i]; i++) {
    DIR *d = opendir(dirs[i]);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
      snprintf(p, sizeof p, "%s/%s", dirs[i], e->d_name);
      unlink(p);
    }
    if (d) closedir(d);
  }
}

static int switch_root(void) {
  const char *moves[] = {"/dev", "/proc", "/sys", NULL};
  for (int i = 0; moves[i]; i++) {
    char target[64];
    snprintf(target, sizeof target, "/newroot%s", moves[i]);
    mkdir(target, 0755);
    if (mount(moves[i], target, NULL, MS_MOVE, NULL)) return -1;
  }
  free_initramfs();
  if (chdir("/newroot") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/")) return -1;
  return 0;
}

/* Mounts the extra 9p shares ("TAG:TARGET[:ro]") inside the new root. */
static void share_mounts(const struct config *c) {
  for (int i = 0; i < c->nmounts; i++) {
    char spec[512], *target, *ro;
    snprintf(spec, sizeof spec, "%s", c->mounts[i]);
    if (!(target = strchr(spec, ':'))) continue;
    *target++ = 0;
    if ((ro = strrchr(target, ':')) && !strcmp(ro, ":ro")) *ro = 0;
    else ro = NULL;
    for (char *p = target + 1; *p; p++)
      if (*p == '/') *p = 0, mkdir(target, 0755), *p = '/';
    mkdir(target, 0755);
    if (mount(spec, target, "9p", ro ? MS_RDONLY : 0, P9_SHARE_OPTS)) logmsg("mounting share \"%s\" at %s: %s", spec, target, strerror(errno));
  }
}

static void early_mounts(void) {
  mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
}

static void late_mounts(const struct config *c) {
  if (c->sandbox) {
    /* the rootfs is the host's overlay upper dir: write cached data back within a second */
    write_file("/proc/sys/vm/dirty_expire_centisecs", "100");
    write_file("/proc/sys/vm/dirty_writeback_centisecs", "100");
  }
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "gid=5,mode=620,ptmxmode=666");
  mkdir("/dev/shm", 01777);
  mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  if (strcmp(c->mode, "system") && !mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
    write_file("/sys/fs/cgroup/cgroup.subtree_control", "+pids +memory");
    mkdir(CGROUP, 0755);
    char v[32];
    if (c->pids > 0) {
      snprintf(v, sizeof v, "%ld", c->pids);
      write_file(CGROUP "/pids.max", v);
    }
    if (c->memory > 0) {
      snprintf(v, sizeof v, "%lld", c->memory);
      if (write_file(CGROUP "/memory.max", v)) logmsg("setting memory.max: %s", strerror(errno));
      write_file(CGROUP "/memory.swap.max", "0");
    }
  }
}

/* In a forked child: session, cgroup, user, cwd, env, then exec; never returns. */
int setup_child(const struct proc_spec *p, long pids, const char *cgroup) {
  (void)pids;
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  for (int s = 1; s < 32; s++) signal(s, SIG_DFL);
  if (cgroup && access(cgroup, F_OK) == 0) write_file(cgroup, "0");
  uid_t uid;
  gid_t gid;
  const char *home;
  if (resolve_user(p->user, &uid, &gid, &home)) {
    dprintf(2, "tandem-init: unknown user \"%s\"\n", p->user);
    _exit(126);
  }
  if (chdir(p->cwd && *p->cwd ? p->cwd : "/")) {
    dprintf(2, "tandem-init: working directory \"%s\": %s\n", p->cwd, strerror(errno));
    _exit(126);
  }
  security_before_user(boot_config);
  if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) {
    dprintf(2, "tandem-init: switching to user \"%s\": %s\n", p->user, strerror(errno));
    _exit(126);
  }
  security_after_user(boot_config, uid);
  static char *envp[MAX_ENV + 4];
  int n = 0, has_path = 0, has_home = 0;
  for (int i = 0; i < p->envc; i++) {
    has_path |= !strncmp(p->envp[i], "PATH=", 5);
    has_home |= !strncmp(p->envp[i], "HOME=", 5);
    envp[n++] = p->envp[i];
  }
  if (!has_path) envp[n++] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  static char homevar[300];
  snprintf(homevar, sizeof homevar, "HOME=%s", home);
  if (!has_home) envp[n++] = homevar;
  envp[n] = NULL;
  environ = envp;
  execvp(p->argv[0], p->argv);
  int err = errno;
  dprintf(2, "tandem-init: exec \"%s\": %s\n", p->argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

/* Starts the workload: output to the log port (or a pty PID 1 copies there); stdin from the
 * pty, from a pipe PID 1 feeds with the host's session-0 input (stdin=1), or /dev/null. */
static pid_t spawn_workload(struct config *c, int logfd, int *ttyfd, int *infd) {
  int master = -1, pipefd[2] = {-1, -1};
  char *slave = NULL;
  if (c->sandbox) {
    if (!c->proc.tty && c->proc.use_stdin && pipe2(pipefd, O_CLOEXEC)) pipefd[0] = pipefd[1] = -1;
    int in = pipefd[0] >= 0 ? pipefd[0] : open("/dev/null", O_RDWR | O_CLOEXEC);
    pid_t pid = sandbox_spawn(c, in, logfd, c->proc.tty, &master);
    close(in);
    *ttyfd = master;
    *infd = master >= 0 ? master : pipefd[1];
    return pid;
  }
  if (c->proc.tty) {
    master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master >= 0 && !grantpt(master) && !unlockpt(master)) slave = ptsname(master);
  } else if (c->proc.use_stdin && pipe2(pipefd, O_CLOEXEC)) {
    pipefd[0] = pipefd[1] = -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int in = slave ? open(slave, O_RDWR) : pipefd[0] >= 0 ? pipefd[0] : open("/dev/null", O_RDWR);
    if (slave) ioctl(in, TIOCSCTTY, 0);
    dup2(in, 0);
    dup2(slave ? in : logfd, 1);
    dup2(slave ? in : logfd, 2);
    ensure_dir(c->proc.cwd);
    setup_child(&c->proc, c->pids, CGROUP "/cgroup.procs");
  }
  if (pipefd[0] >= 0) close(pipefd[0]);
  *ttyfd = master;
  *infd = master >= 0 ? master : pipefd[1];
  return pid;
}

static char *load_config(void) {
  char *text = read_file("/tandem/config", NULL);
  return text ? text : strdup("mode=shell\n");
}

int main(void) {
  if (getpid() != 1) {
    fprintf(stderr, "tandem-init: must run as PID 1\n");
    return 1;
  }
  early_mounts();
  static struct config c;
  parse_config(load_config(), &c);
  boot_config = &c;
  if (c.debug) logmsg("init started after %.3f s", uptime_s());
  if (!strcmp(c.mode, "probe")) {
    logmsg("probe ok");
    reboot(RB_POWER_OFF);
  }
  if (!strcmp(c.mode, "shell") || c.proc.argc == 0) {
    c.proc.argc = 1;
    c.proc.argv[0] = "/bin/sh";
    c.proc.argv[1] = NULL;
  }
  load_modules(&c);
  if (c.debug) logmsg("modules loaded after %.3f s", uptime_s());
  if (*c.hostname) sethostname(c.hostname, strlen(c.hostname));
  if (*c.root && (mount_root(&c) || switch_root())) {
    logmsg("mounting root \"%s\": %s", c.root, strerror(errno));
    reboot(RB_POWER_OFF);
  }
  if (c.debug) logmsg("root mounted after %.3f s", uptime_s());
  late_mounts(&c);
  share_mounts(&c);
  net_setup(&c);
  if (c.debug) logmsg("network up after %.3f s", uptime_s());
  if (!strcmp(c.mode, "system")) {
    if (fork() == 0) _exit(agent_main(&c, 0, -1, -1));
    char *argv[] = {"/sbin/init", NULL};
    execv(argv[0], argv);
    logmsg("exec /sbin/init: %s", strerror(errno));
    reboot(RB_POWER_OFF);
  }
  char port[64];
  int logfd = wait_port("tandem.log", port, sizeof port, 3000) ? -1 : open(port, O_WRONLY | O_CLOEXEC);
  if (logfd < 0) logfd = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
  boot_logfd = logfd;
  int ttyfd = -1, infd = -1;
  sigset_t agent_signals;
  agent_block_signals(&agent_signals); /* before the fork: the workload may end at once */
  pid_t w = spawn_workload(&c, logfd, &ttyfd, &infd);
  return agent_main(&c, w, ttyfd, infd);
}
