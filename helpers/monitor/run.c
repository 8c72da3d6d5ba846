/*
 * `tandem-monitor run`: the parent of one container run (DESIGN.md, "What is not TypeScript").
 *
 * The process Tandem spawns (P) forks; the child calls setsid and forks the monitor (M), then
 * exits, so M is reparented away from the daemon and outlives it. Started by the launcher
 * (launcher.c), M is the launcher's child itself (in a session of its own) and answers it
 * directly: the launcher holds nothing M needs, and exits with the daemon. M writes RUNDIR/monitor
 * ("pid starttime run-id"), optionally mounts the overlay rootfs in a private mount namespace
 * (over idmapped image layers with --idmap, idmap.c)
 * (on a private tmpfs, so no host mount or mount point is ever left behind), arms OOM detection, and runs ONE foreground
 * `crun run` whose stdout/stderr (or pty master, via --console-socket) it copies into a log
 * with a size cap and one rotation. crun's --pid-file must be RUNDIR/pid.fifo, a FIFO that M
 * creates: when crun writes the pid there, the container runs; M copies it to RUNDIR/pid and
 * tells P ("ok PID"), and P exits 0. If crun ends before that, P prints crun's error, exits 1.
 * When crun ends, M writes RUNDIR/exit (JSON: runId, exitCode, oomKilled, startedAt,
 * finishedAt) atomically, so an exit while the daemon is down is still recorded. With
 * --attach, clients of that socket get the output and the exit status and may send stdin
 * (--stdin: the container's stdin is a pipe, or the terminal) and resizes (attach.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach.h"
#include "monitor.h"
#include "util.h"

struct run {
  struct run_opts o;
  int sync_fd, sig_fd, fifo_fd, out_fd, err_fd, master_fd, listen_fd, oom_fd;
  pid_t crun;
  int crun_status, crun_done, started, init_status, init_done;
  char pid_text[32];
  size_t pid_len;
  pid_t init_pid;
  unsigned long long oom_events, oom_v2_base;
  char started_at[40];
  char errtail[1024];
  size_t errtail_len;
  struct log log;
  struct attach *attach;
  const char *answer_id; /* started by the launcher: answer it directly ("ID ok PID") */
};

/* Tells whoever started us the outcome: "ok PID\n" or "err MESSAGE\n" (once). */
static void sync_send(struct run *r, const char *msg) {
  if (r->sync_fd < 0) return;
  if (r->answer_id) {
    const char *space = strchr(msg, ' ');
    char word[8];
    snprintf(word, sizeof word, "%.*s", space ? (int)(space - msg) : 0, msg);
    launcher_answer(r->sync_fd, r->answer_id, word, space ? space + 1 : "");
  } else {
    write_all(r->sync_fd, msg, strlen(msg));
  }
  close(r->sync_fd);
  r->sync_fd = -1;
}

static void fail(struct run *r, const char *what) {
  char msg[1200];
  snprintf(msg, sizeof msg, "err %s: %s\n", what, strerror(errno));
  sync_send(r, msg);
  if (r->crun > 0) kill(r->crun, SIGKILL);
  char path[4096];
  snprintf(path, sizeof path, "%s/monitor", r->o.dir);
  unlink(path);
  _exit(1);
}

static void write_monitor_file(struct run *r) {
  char path[4096], text[256];
  snprintf(path, sizeof path, "%s/monitor", r->o.dir);
  snprintf(text, sizeof text, "%d %llu %s\n", (int)getpid(), proc_start_time(getpid()), r->o.run_id);
  if (write_file_atomic(path, text) < 0) fail(r, "writing the monitor file");
}

static void mount_rootfs(struct run *r) {
  if (!r->o.merged) return;
  if (unshare(CLONE_NEWNS) < 0) fail(r, "unshare(CLONE_NEWNS)");
  if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) fail(r, "making / a slave mount");
  /* the mount point lives on a tmpfs seen only here: removing the instance later never has
   * to detach a mount (which waits for an RCU grace period) */
  if (r->o.scratch) {
    if (mount("tmpfs", r->o.scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
      fail(r, "mounting the scratch tmpfs");
    if (mkdir(r->o.merged, 0755) < 0 && errno != EEXIST) fail(r, "creating the rootfs mount point");
  }
  static char lower[8192];
  snprintf(lower, sizeof lower, "%s", r->o.lower);
  if (r->o.idmap) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s.layers", r->o.merged);
    if (idmap_layers(r->o.lower, r->o.idmap, dir, lower, sizeof lower) < 0) fail(r, "idmapping the image layers");
  }
  char opts[12288];
  int n = snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, r->o.upper, r->o.work);
  if (n >= (int)sizeof opts) {
    errno = ENAMETOOLONG;
    fail(r, "overlay options");
  }
  if (mount("overlay", r->o.merged, "overlay", 0, opts) < 0) fail(r, "mounting the overlay rootfs");
}

static unsigned long long read_v2_oom_kills(const char *dir) {
  char path[4096], buf[1024];
  snprintf(path, sizeof path, "%s/memory.events", dir);
  if (read_small_file(path, buf, sizeof buf) < 0) return 0;
  char *p = strstr(buf, "oom_kill ");
  return p ? strtoull(p + 9, NULL, 10) : 0;
}

/* v1: an eventfd registered on memory.oom_control of the instance cgroup (which outlives the
 * run, so every notification is an OOM, never the cgroup's removal). v2: the hierarchical
 * oom_kill counter of memory.events, read before and after. */
static void arm_oom(struct run *r) {
  if (r->o.oom_v2) r->oom_v2_base = read_v2_oom_kills(r->o.oom_v2);
  if (!r->o.oom_v1) return;
  char path[4096], line[64];
  snprintf(path, sizeof path, "%s/memory.oom_control", r->o.oom_v1);
  int ofd = open(path, O_RDONLY | O_CLOEXEC);
  if (ofd < 0) fail(r, "opening memory.oom_control");
  r->oom_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  snprintf(path, sizeof path, "%s/cgroup.event_control", r->o.oom_v1);
  int cfd = open(path, O_WRONLY | O_CLOEXEC);
  if (r->oom_fd < 0 || cfd < 0) fail(r, "opening cgroup.event_control");
  snprintf(line, sizeof line, "%d %d", r->oom_fd, ofd);
  if (write_all(cfd, line, strlen(line)) < 0) fail(r, "registering the oom eventfd");
  close(cfd);
}

static void spawn_crun(struct run *r) {
  int out[2], err[2], in[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) fail(r, "pipe");
  if (r->o.stdin_open && pipe2(in, O_CLOEXEC) < 0) fail(r, "pipe");
  r->crun = fork();
  if (r->crun < 0) fail(r, "fork");
  if (r->crun == 0) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    int devnull = open("/dev/null", O_RDWR);
    dup2(in[0] >= 0 ? in[0] : devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    close_from(3, -1);
    execv(r->o.crun_argv[0], r->o.crun_argv);
    dprintf(2, "tandem-monitor: executing %s: %s\n", r->o.crun_argv[0], strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  if (in[0] >= 0) {
    close(in[0]);
    if (r->attach) attach_set_stdin(r->attach, in[1], 0);
  }
  r->out_fd = out[0];
  r->err_fd = err[0];
}

static void on_output(struct run *r, int *fd, int is_err) {
  char buf[65536];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) { /* EOF, or EIO on a pty master once the terminal is gone */
    close(*fd);
    *fd = -1;
    return;
  }
  log_write(&r->log, buf, (size_t)n);
  if (r->attach) attach_output(r->attach, is_err ? FRAME_STDERR : FRAME_STDOUT, buf, (size_t)n);
  if (is_err && !r->started) { /* keep crun's last words for a failed start */
    size_t keep = sizeof r->errtail - 1;
    size_t take = (size_t)n > keep ? keep : (size_t)n;
    if (r->errtail_len + take > keep) {
      size_t drop = r->errtail_len + take - keep;
      memmove(r->errtail, r->errtail + drop, r->errtail_len - drop);
      r->errtail_len -= drop;
    }
    memcpy(r->errtail + r->errtail_len, buf + n - take, take);
    r->errtail_len += take;
  }
}

/* crun writes the container's pid into RUNDIR/pid.fifo once the container runs (a FIFO, so no
 * polling and no inotify, whose teardown costs an SRCU grace period); it is copied to
 * RUNDIR/pid for the driver. */
static void on_pid_fifo(struct run *r) {
  ssize_t n = read(r->fifo_fd, r->pid_text + r->pid_len, sizeof r->pid_text - 1 - r->pid_len);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n > 0) r->pid_len += (size_t)n; /* one small write (atomic below PIPE_BUF): take it as is */
  r->pid_text[r->pid_len] = '\0';
  close(r->fifo_fd);
  r->fifo_fd = -1;
  char path[4096], text[64];
  snprintf(path, sizeof path, "%s/pid.fifo", r->o.dir);
  unlink(path);
  if (atoi(r->pid_text) <= 0) return; /* crun gave up before the start: its exit tells why */
  r->init_pid = atoi(r->pid_text);
  snprintf(path, sizeof path, "%s/pid", r->o.dir);
  snprintf(text, sizeof text, "%d\n", (int)r->init_pid);
  write_file_atomic(path, text);
  r->started = 1;
  iso_now(r->started_at, sizeof r->started_at);
  snprintf(text, sizeof text, "ok %d\n", (int)r->init_pid);
  sync_send(r, text);
}

static void on_signal(struct run *r) {
  struct signalfd_siginfo si;
  if (read(r->sig_fd, &si, sizeof si) != sizeof si) return;
  if (si.ssi_signo != SIGCHLD) {
    if (!r->crun_done) kill(r->crun, (int)si.ssi_signo); /* crun forwards it to the container */
    return;
  }
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    if (p == r->crun) {
      r->crun_status = st;
      r->crun_done = 1;
    } else if (r->init_pid > 0 && p == r->init_pid) { /* crun died first: we are its subreaper */
      r->init_status = st;
      r->init_done = 1;
    }
  }
}

static void on_console(struct run *r) {
  int c = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  int fd = recv_fd(c);
  close(c);
  if (fd < 0) return;
  r->master_fd = fd;
  if (r->attach) {
    attach_set_tty(r->attach, fd);
    if (r->o.stdin_open) attach_set_stdin(r->attach, fd, 1);
  }
  close(r->listen_fd);
  r->listen_fd = -1;
  unlink(r->o.console);
}

static void on_oom(struct run *r) {
  unsigned long long v;
  if (read(r->oom_fd, &v, sizeof v) == sizeof v) r->oom_events += v;
}

enum { P_SIG, P_OUT, P_ERR, P_MASTER, P_LISTEN, P_FIFO, P_OOM, P_N };

static void loop(struct run *r) {
  for (;;) {
    int *fds[P_N] = {&r->sig_fd, &r->out_fd, &r->err_fd, &r->master_fd, &r->listen_fd, &r->fifo_fd, &r->oom_fd};
    struct pollfd pf[P_N + ATTACH_MAX_POLLFDS];
    for (int i = 0; i < P_N; i++) pf[i] = (struct pollfd){.fd = *fds[i], .events = POLLIN};
    int na = r->attach ? attach_pollfds(r->attach, pf + P_N) : 0;
    int drained = r->out_fd < 0 && r->err_fd < 0 && r->master_fd < 0;
    /* crun killed while the container runs: its init is now our child; wait for it */
    int orphaned = r->crun_done && r->started && !r->init_done && WIFSIGNALED(r->crun_status) &&
                   r->init_pid > 0 && kill(r->init_pid, 0) == 0;
    if (r->crun_done && !orphaned && (drained || !r->started)) return;
    /* once crun is gone, give stray writers a moment, then stop */
    int n = poll(pf, (nfds_t)(P_N + na), r->crun_done && !orphaned ? 200 : orphaned ? 1000 : -1);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && r->crun_done && !orphaned) return;
    if (pf[P_SIG].revents) on_signal(r);
    if (pf[P_OUT].revents) on_output(r, &r->out_fd, 0);
    if (pf[P_ERR].revents) on_output(r, &r->err_fd, 1);
    if (pf[P_MASTER].revents) on_output(r, &r->master_fd, 0);
    if (pf[P_LISTEN].revents) on_console(r);
    if (pf[P_FIFO].revents) on_pid_fifo(r);
    if (pf[P_OOM].revents) on_oom(r);
    if (na) attach_handle(r->attach, pf + P_N, na);
  }
}

static void finish(struct run *r) {
  if (r->oom_fd >= 0) on_oom(r);
  if (!r->started && r->fifo_fd >= 0) on_pid_fifo(r);
  if (!r->started) {
    while (r->err_fd >= 0) on_output(r, &r->err_fd, 1);
    while (r->errtail_len > 0 && (r->errtail[r->errtail_len - 1] == '\n' || r->errtail[r->errtail_len - 1] == '\r'))
      r->errtail_len--;
    r->errtail[r->errtail_len] = '\0';
    const char *nl = strrchr(r->errtail, '\n');
    char msg[1200];
    snprintf(msg, sizeof msg, "err crun exited with status %d: %s\n", status_code(r->crun_status),
             nl ? nl + 1 : r->errtail);
    sync_send(r, msg);
    char path[4096];
    snprintf(path, sizeof path, "%s/monitor", r->o.dir);
    unlink(path);
    if (r->attach) attach_finish(r->attach, status_code(r->crun_status));
    _exit(1);
  }
  int code = status_code(r->init_done ? r->init_status : r->crun_status);
  int oom = r->oom_events > 0 || (r->o.oom_v2 && read_v2_oom_kills(r->o.oom_v2) > r->oom_v2_base);
  char path[4096], text[512], finished[40];
  iso_now(finished, sizeof finished);
  snprintf(text, sizeof text,
           "{\"runId\":\"%s\",\"pid\":%d,\"exitCode\":%d,\"oomKilled\":%s,\"startedAt\":\"%s\",\"finishedAt\":\"%s\"}\n",
           r->o.run_id, (int)r->init_pid, code, oom ? "true" : "false", r->started_at,
           finished);
  snprintf(path, sizeof path, "%s/exit", r->o.dir);
  write_file_atomic(path, text);
  if (r->attach && r->o.linger_ms > 0) attach_linger(r->attach, code, r->o.linger_ms, r->sig_fd);
  else if (r->attach) attach_finish(r->attach, code);
  _exit(0);
}

/* The monitor process proper (M). */
static void monitor_main(struct run *r) {
  int devnull = open("/dev/null", O_RDWR);
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);
  if (devnull > 2) close(devnull);
  sigset_t mask;
  sigemptyset(&mask);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&mask, sigs[i]);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_CHILD_SUBREAPER, 1); /* if crun dies, the container's init becomes our child */
  r->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (r->sig_fd < 0) fail(r, "signalfd");
  write_monitor_file(r);
  if (log_open(&r->log, r->o.log_path, r->o.log_max) < 0) fail(r, "opening the log");
  mount_rootfs(r);
  arm_oom(r);
  if (r->o.console && (r->listen_fd = listen_unix(r->o.console)) < 0) fail(r, "listening on the console socket");
  if (r->o.attach && !(r->attach = attach_open(r->o.attach, r->o.replay_max))) fail(r, "listening on the attach socket");
  char fifo[4096];
  snprintf(fifo, sizeof fifo, "%s/pid.fifo", r->o.dir);
  unlink(fifo);
  if (mkfifo(fifo, 0600) < 0) fail(r, "creating the pid fifo");
  r->fifo_fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (r->fifo_fd < 0) fail(r, "opening the pid fifo");
  spawn_crun(r);
  loop(r);
  finish(r);
}

void run_for_launcher(struct run_opts *o, const char *id, int answer_fd) {
  static struct run r;
  r = (struct run){.o = *o, .sync_fd = answer_fd, .sig_fd = -1, .fifo_fd = -1, .out_fd = -1, .err_fd = -1,
                   .master_fd = -1, .listen_fd = -1, .oom_fd = -1, .answer_id = id};
  setsid();
  monitor_main(&r);
  _exit(0);
}

int run_launch(struct run_opts *o, char *out, size_t cap) {
  static struct run r;
  r = (struct run){.o = *o, .sync_fd = -1, .sig_fd = -1, .fifo_fd = -1, .out_fd = -1, .err_fd = -1,
                   .master_fd = -1, .listen_fd = -1, .oom_fd = -1};
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) < 0) die("pipe: %s", strerror(errno));
  pid_t child = fork();
  if (child < 0) die("fork: %s", strerror(errno));
  if (child == 0) {
    close(sync[0]);
    setsid();
    pid_t m = fork();
    if (m < 0) _exit(1);
    if (m > 0) _exit(0);
    r.sync_fd = sync[1];
    monitor_main(&r);
  }
  close(sync[1]);
  char buf[2048];
  size_t got = 0;
  for (;;) {
    ssize_t n = read(sync[0], buf + got, sizeof buf - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || got + (size_t)n >= sizeof buf - 1) break;
    got += (size_t)n;
  }
  close(sync[0]);
  buf[got] = '\0';
  waitpid(child, NULL, 0);
  int ok = strncmp(buf, "ok ", 3) == 0;
  snprintf(out, cap, "%s", ok ? buf + 3 : got > 4 ? buf + 4 : "monitor ended before the container started\n");
  return ok ? 0 : 1;
}

int run_main(struct run_opts *o) {
  char out[2048];
  int rc = run_launch(o, out, sizeof out);
  fputs(out, rc == 0 ? stdout : stderr);
  return rc;
}
