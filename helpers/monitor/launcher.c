/*
 * `tandem-monitor launcher`: starts container monitors for the daemon, so the daemon never
 * forks itself to start a container (a fork of a large Node process costs milliseconds of its
 * event loop, and the spawned process's exec and start are on the start's critical path).
 *
 * Requests arrive on stdin, each a series of NUL-terminated strings: an ID, a count N, then N
 * `run` arguments (what follows `tandem-monitor run`, see main.c). For each, the launcher forks
 * a child that becomes the monitor M itself (a session of its own; run.c) and writes ONE line on
 * stdout: `ID ok PID` once the container runs, or `ID err MESSAGE` when it does not (newlines in
 * MESSAGE become 0x1e). One fork and no go-between: the answer comes from M as crun reports
 * the pid. A child that ends with a failure status gets `ID err ...` from the launcher when it
 * reaps it (a usage error, whose message goes to stderr, never answered itself); the daemon
 * ignores answers for requests already answered. Lines are shorter than PIPE_BUF, so
 * children's writes never interleave.
 *
 * With --prime-cgroup FILE (the cgroup.procs of the launcher's own cgroup in one hierarchy), each
 * request also forks a short-lived child that writes "0" there, moving itself to the cgroup it
 * is already in. Such a write is nothing, but it takes the kernel's global cgroup
 * threadgroup lock for writing, whose first taker waits out an RCU grace period (≈5-20 ms
 * here); later takers within about one grace period of the last release skip that wait. The
 * container's crun writes its own cgroup.procs a few milliseconds later (after its exec, its
 * config and its namespaces), so the grace period runs while crun starts instead of after it
 * (bench/container-launch: ≈4-8 ms less per launch). One such child at a time. Priming
 * earlier, as a create begins, measured worse (API row 37-39 ms against 31-33): the grace
 * period then tends to be over, and the lock back on its fast path, by the time crun comes.
 *
 * The launcher holds no state worth keeping: at EOF on stdin (the daemon closed it or died) or
 * when its parent dies, it exits; children already forked finish on their own, and monitors
 * never depended on it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monitor.h"
#include "util.h"

/* Monitors this launcher forked and has not reaped yet (they live as long as their container). */
struct child {
  pid_t pid;
  char id[64];
};

static struct child *children;
static size_t n_children, cap_children;

/* --prime-cgroup: the file the priming child writes, and that child while it runs. */
static const char *prime_file;
static pid_t primer = -1;

/* Starts taking the cgroup threadgroup lock in a child (see the top), unless one is at it. */
static void prime_cgroup(void) {
  if (!prime_file || primer > 0) return;
  primer = fork();
  if (primer != 0) return;
  int fd = open(prime_file, O_WRONLY | O_CLOEXEC);
  _exit(fd >= 0 && write(fd, "0", 1) == 1 ? 0 : 1);
}

/* The launcher's own argument strings, contiguous in memory: a monitor writes its title there. */
static char *title_at;
static size_t title_room;

/* Shows `text` as this process's command line (ps, /proc/PID/cmdline), as far as room allows. */
static void retitle(const char *text) {
  if (!title_at || title_room < 2) return;
  memset(title_at, 0, title_room);
  snprintf(title_at, title_room, "%s", text);
}

void launcher_answer(int fd, const char *id, const char *word, const char *text) {
  char line[PIPE_BUF];
  int n = snprintf(line, sizeof line, "%s %s ", id, word);
  if (n < 0 || (size_t)n >= sizeof line - 1) return;
  size_t len = (size_t)n;
  for (const char *t = text; *t && len < sizeof line - 1; t++) line[len++] = *t == '\n' ? '\x1e' : *t;
  while (len > (size_t)n && line[len - 1] == '\x1e') len--;
  line[len++] = '\n';
  write_all(fd, line, len);
}

/* The child for one request: the monitor of `run` with these arguments (run.c), answering on
 * stdout once the container runs or fails to. */
static void __attribute__((noreturn)) serve(const char *id, int argc, char **argv) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGCHLD, SIG_DFL);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  close_from(3, -1);
  struct run_opts o = {.replay_max = 1 << 20};
  parse_run_opts(argc, argv, 2, &o);
  char title[512];
  snprintf(title, sizeof title, "tandem-monitor run %s", o.dir);
  retitle(title);
  int answer_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (answer_fd < 0) die("dup: %s", strerror(errno));
  run_for_launcher(&o, id, answer_fd);
}

/* Forks a child for the request in strs[0..count): ID, N, then the N arguments (argv[2..]). */
static void start(char **strs, size_t count) {
  char **argv = calloc(count + 1, sizeof *argv);
  if (!argv) die("out of memory");
  argv[0] = "tandem-monitor";
  argv[1] = "run";
  for (size_t i = 2; i < count; i++) argv[i] = strs[i];
  pid_t pid = fork();
  if (pid < 0) {
    launcher_answer(STDOUT_FILENO, strs[0], "err", strerror(errno));
  } else if (pid == 0) {
    serve(strs[0], (int)count, argv);
  } else {
    if (n_children == cap_children) {
      cap_children = cap_children ? 2 * cap_children : 16;
      children = realloc(children, cap_children * sizeof *children);
      if (!children) die("out of memory");
    }
    children[n_children].pid = pid;
    snprintf(children[n_children].id, sizeof children[n_children].id, "%s", strs[0]);
    n_children++;
    prime_cgroup(); /* after the monitor's fork: it must not wait for this one */
  }
  free(argv);
}

/* Starts every complete request at the front of buf; returns the bytes consumed. */
static size_t take_requests(char *buf, size_t len) {
  size_t used = 0;
  for (;;) {
    char *strs[4096];
    size_t n = 0, at = used, want = 2;
    while (n < want) {
      char *end = memchr(buf + at, '\0', len - at);
      if (!end) return used;
      if (n == sizeof strs / sizeof *strs) die("request with too many arguments");
      strs[n++] = buf + at;
      at = (size_t)(end - buf) + 1;
      if (n == 2) want = 2 + strtoul(strs[1], NULL, 10);
    }
    start(strs, n);
    used = at;
  }
}

static void reap(void) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    if (pid == primer) primer = -1;
    for (size_t i = 0; i < n_children; i++) {
      if (children[i].pid != pid) continue;
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char why[64];
        snprintf(why, sizeof why, "the monitor ended with status %d", status_code(st));
        launcher_answer(STDOUT_FILENO, children[i].id, "err", why);
      }
      children[i] = children[--n_children];
      break;
    }
  }
}

int launcher_main(int argc, char **argv) {
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--prime-cgroup") && i + 1 < argc) prime_file = argv[++i];
    else if (argv[i][0] == '-') die("unknown launcher option %s", argv[i]);
  }
  title_at = argv[0];
  title_room = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 0; /* the daemon is already gone */
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd: %s", strerror(errno));
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  if (!buf) die("out of memory");
  for (;;) {
    struct pollfd pf[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    if (poll(pf, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll: %s", strerror(errno));
    }
    if (pf[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {
      }
      reap();
    }
    if (!pf[0].revents) continue;
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
      if (!buf) die("out of memory");
    }
    ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    len += (size_t)n;
    size_t used = take_requests(buf, len);
    memmove(buf, buf + used, len - used);
    len -= used;
  }
}
