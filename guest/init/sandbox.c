/*
 * Sandbox mode of tandem-init (config `sandbox=1`): the workload of a container image runs as
 * it would under crun, but inside the guest. PID 1 (the agent) forks a small init ("G") into a
 * new pid namespace; G joins the workload cgroup (memory.max, pids.max), unshares mount, uts,
 * ipc and cgroup namespaces, gives the workload a fresh /proc, a read-only /sys, a minimal
 * /dev with its own devpts, /etc/hosts (PID 1's binds of /etc/hosts and /etc/resolv.conf on a
 * bridge network, net.c, stay in the copied mount namespace), and forks the workload ("W") with the container's
 * capabilities. G forwards signals to W and exits with W's status, which takes the whole pid
 * namespace (and every exec in it) down. Execs enter G's namespaces and cgroup; their
 * terminals come from the workload's devpts, so `tty` names a device the workload can see.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tandem.h"

#define TIOCGPTPEER_ _IO('T', 0x41)

/* True in the workload and in execs (they get the container's capabilities; the console does not). */
int sandboxed;

static int self_pidns = -1;

/* Forks with the child placed in pid namespace `nsfd` (-1: a new one); the caller's own
 * later children stay in its namespace. */
static pid_t fork_in(int nsfd) {
  if (self_pidns < 0) self_pidns = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
  if (nsfd >= 0 ? setns(nsfd, CLONE_NEWPID) : unshare(CLONE_NEWPID)) return -1;
  pid_t pid = fork();
  if (pid != 0 && setns(self_pidns, CLONE_NEWPID)) logmsg("restoring the pid namespace: %s", strerror(errno));
  return pid;
}

static void mkdev(const char *path, int major, int minor) {
  if (mknod(path, S_IFCHR | 0666, makedev(major, minor)) == 0) chmod(path, 0666);
}

static void dev_mounts(void) {
  umount2("/dev", MNT_DETACH);
  mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536k");
  static const struct { const char *name; int major, minor; } devs[] = {
      {"/dev/null", 1, 3}, {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
      {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
  };
  for (unsigned i = 0; i < sizeof devs / sizeof *devs; i++) mkdev(devs[i].name, devs[i].major, devs[i].minor);
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,gid=5,mode=620,ptmxmode=666");
  symlink("pts/ptmx", "/dev/ptmx");
  mkdir("/dev/shm", 01777);
  mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mkdir("/dev/mqueue", 0755);
  mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  symlink("/proc/self/fd", "/dev/fd");
  symlink("/proc/self/fd/0", "/dev/stdin");
  symlink("/proc/self/fd/1", "/dev/stdout");
  symlink("/proc/self/fd/2", "/dev/stderr");
}

/* The workload's mount namespace: nothing of it propagates back to the guest. */
static void ns_mounts(const struct config *c) {
  mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  umount2("/proc", MNT_DETACH);
  mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  umount2("/sys", MNT_DETACH);
  mount("sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount("cgroup2", "/sys/fs/cgroup", "cgroup2", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  dev_mounts();
  if (*c->hosts && !*c->hosts_file && access("/etc", F_OK) == 0) bind_text("/etc/hosts", c->hosts);
  if (*c->hostname && access("/etc", F_OK) == 0) {
    char text[300];
    snprintf(text, sizeof text, "%s\n", c->hostname);
    bind_text("/etc/hostname", text);
  }
  if (c->ro_root) {
    mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
    const char *tmps[] = {"/tmp", "/var/tmp", "/run", NULL};
    for (int i = 0; tmps[i]; i++)
      if (access(tmps[i], F_OK) == 0) mount("tmpfs", tmps[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  }
}

static void send_fd(int sock, int fd) {
  char data = 'm', ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&data, 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET, h->cmsg_type = SCM_RIGHTS, h->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(h), &fd, sizeof fd);
  if (sendmsg(sock, &m, 0) < 0) logmsg("passing the workload terminal: %s", strerror(errno));
}

static int recv_fd(int sock) {
  char data, ctl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {&data, 1};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof ctl};
  if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) <= 0) return -1;
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  int fd = -1;
  if (h && h->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(h), sizeof fd);
  return fd;
}

/* G: forwards signals to the workload, reaps orphans, exits with the workload's status. */
static void init_loop(pid_t w) {
  sigset_t all;
  sigfillset(&all);
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig == SIGCHLD) {
      int st;
      pid_t p;
      while ((p = waitpid(-1, &st, WNOHANG)) > 0)
        if (p == w) _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    } else if (sig > 0 && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU) {
      kill(w, sig);
    }
  }
}

/* G, after fork: namespaces, mounts, the terminal, then the workload. Never returns. */
static void sandbox_init(const struct config *c, int in, int out, int sock) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, NULL);
  setsid();
  /* only the workload's stdio (and the terminal socket) stay open: e.g. PID 1's end of the
   * stdin pipe must not, or the workload never sees EOF */
  dup2(in, 0), dup2(out, 1), dup2(out, 2);
  if (sock >= 0) dup2(sock, 3), sock = 3;
  for (int fd = sock >= 0 ? 4 : 3; fd < 1024; fd++) close(fd);
  write_file(CGROUP "/cgroup.procs", "0");
  if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP)) {
    logmsg("sandbox namespaces: %s", strerror(errno));
    _exit(126);
  }
  if (*c->hostname) sethostname(c->hostname, strlen(c->hostname));
  ns_mounts(c);
  int master = -1;
  if (sock >= 0) {
    master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master >= 0) unlockpt(master);
    send_fd(sock, master);
    close(sock);
  }
  pid_t w = fork();
  if (w == 0) {
    sandboxed = 1;
    setsid();
    int t = master >= 0 ? ioctl(master, TIOCGPTPEER_, O_RDWR) : -1;
    if (t >= 0) {
      ioctl(t, TIOCSCTTY, 0);
      dup2(t, 0), dup2(t, 1), dup2(t, 2);
      close(t);
    }
    ensure_dir(c->proc.cwd);
    setup_child(&c->proc, 0, NULL);
  }
  if (w < 0) _exit(126);
  if (master >= 0) close(master);
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0), dup2(null, 1), dup2(null, 2);
  init_loop(w);
}

/* Starts G (in new namespaces) and through it the workload; `*master` gets the workload's
 * terminal when one is wanted. Returns G's pid, or -1. */
pid_t sandbox_spawn(const struct config *c, int in, int out, int tty_wanted, int *master) {
  int sp[2] = {-1, -1};
  *master = -1;
  if (tty_wanted && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) sp[0] = sp[1] = -1;
  pid_t g = fork_in(-1);
  if (g == 0) {
    if (sp[0] >= 0) close(sp[0]);
    sandbox_init(c, in, out, sp[1]);
  }
  if (sp[1] >= 0) close(sp[1]);
  if (g > 0 && sp[0] >= 0) *master = recv_fd(sp[0]);
  if (sp[0] >= 0) close(sp[0]);
  return g;
}

/* Forks a child into the pid namespace of the sandbox whose init is `init`. */
pid_t sandbox_fork(pid_t init) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/pid", init);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  pid_t pid = fork_in(fd);
  close(fd);
  return pid;
}

/* In a child from sandbox_fork: joins the workload's cgroup and namespaces (root and cwd become
 * the workload's root). Exits 126 when it cannot. */
void sandbox_enter(pid_t init) {
  static const struct { const char *name; int type; } ns[] = {
      {"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}, {"mnt", CLONE_NEWNS}};
  int fds[4];
  write_file(CGROUP "/cgroup.procs", "0");
  for (int i = 0; i < 4; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", init, ns[i].name);
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
  }
  for (int i = 0; i < 4; i++) {
    if (fds[i] < 0 || setns(fds[i], ns[i].type)) {
      dprintf(2, "tandem-init: entering the sandbox's %s namespace: %s\n", ns[i].name, strerror(errno));
      _exit(126);
    }
    close(fds[i]);
  }
  sandboxed = 1;
}

/* Opens a terminal in the workload's devpts (so its name means something there). */
int sandbox_open_pty(pid_t init, int *master, int cols, int rows) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/root/dev/pts/ptmx", init);
  *master = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*master < 0 || unlockpt(*master)) return -1;
  if (cols > 0 && rows > 0) {
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    ioctl(*master, TIOCSWINSZ, &ws);
  }
  return 0;
}

/* The slave side of a terminal from sandbox_open_pty, as the controlling terminal on 0-2. */
int sandbox_attach_pty(int master) {
  int t = ioctl(master, TIOCGPTPEER_, O_RDWR);
  if (t < 0) return -1;
  ioctl(t, TIOCSCTTY, 0);
  dup2(t, 0), dup2(t, 1), dup2(t, 2);
  return 0;
}

struct cap_header {
  uint32_t version;
  int pid;
};
struct cap_data {
  uint32_t effective, permitted, inheritable;
};

/* Before the switch to the workload's user: the bounding set and no_new_privs. */
void security_before_user(const struct config *c) {
  if (!c || !c->sandbox || !sandboxed) return;
  for (int cap = 0; c->has_caps && cap < 64; cap++)
    if (!(c->caps >> cap & 1) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno == EINVAL) break;
  if (c->nnp) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* After it: root keeps exactly the container's capabilities (others lost theirs in setuid). */
void security_after_user(const struct config *c, uid_t uid) {
  if (!c || !c->sandbox || !sandboxed || !c->has_caps || uid != 0) return;
  struct cap_header h = {0x20080522, 0}; /* _LINUX_CAPABILITY_VERSION_3 */
  struct cap_data d[2] = {{(uint32_t)c->caps, (uint32_t)c->caps, 0},
                          {(uint32_t)(c->caps >> 32), (uint32_t)(c->caps >> 32), 0}};
  if (syscall(SYS_capset, &h, d)) dprintf(2, "tandem-init: capset: %s\n", strerror(errno));
}

static long long cg_value(const char *file, const char *key) {
  char path[128];
  snprintf(path, sizeof path, CGROUP "/%s", file);
  char *text = read_file(path, NULL);
  if (!text) return -1;
  long long v = -1;
  if (!key) {
    v = strncmp(text, "max", 3) ? atoll(text) : -1;
  } else {
    size_t n = strlen(key);
    for (char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
      if (!strncmp(p, key, n) && p[n] == ' ') {
        v = atoll(p + n + 1);
        break;
      }
  }
  free(text);
  return v;
}

/* The number of processes of the workload cgroup that an OOM killer ended. */
int cgroup_oom_kills(void) {
  long long v = cg_value("memory.events", "oom_kill");
  return v > 0 ? (int)v : 0;
}

/* The workload cgroup's figures as key=value lines (-1: unknown). */
int cgroup_stats(char *out, size_t n) {
  return snprintf(out, n,
                  "memory=%lld\ninactive_file=%lld\npeak=%lld\nlimit=%lld\npids=%lld\ncpu_usec=%lld\noom_kills=%d\n",
                  cg_value("memory.current", NULL), cg_value("memory.stat", "inactive_file"),
                  cg_value("memory.peak", NULL), cg_value("memory.max", NULL), cg_value("pids.current", NULL),
                  cg_value("cpu.stat", "usage_usec"), cgroup_oom_kills());
}
