/*
 * The agent loop of tandem-init: frames on the virtio-serial agent port, exec sessions, the
 * workload's exit, the power button. Everything is non-blocking and driven by one poll():
 * a blocked write must never stall PID 1 (the power button and reaping run here too).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tandem.h"

#define MAX_SESSIONS 64
#define OUT_HIGH (512 * 1024)
#define EV_KEY_ 1
#define KEY_POWER_ 116

struct buf {
  char *data;
  size_t len, cap;
};

struct session {
  uint32_t id;
  pid_t pid;
  int in, out, err; /* -1 when closed; with a TTY out is the master and in == out */
  int tty, exited, status, in_eof;
  struct buf inq;
  char *spec;
};

static struct {
  struct config *c;
  int fd, connected, logfd, statusfd, power[4], npower, sigfd, wtty;
  int win, win_eof; /* the workload's stdin (pty master or pipe) and its pending input */
  struct buf winq;
  pid_t workload, shell;
  time_t shell_started;
  int shell_fast;
  int term_sent;
  struct buf out, in;
  struct session s[MAX_SESSIONS];
} A;

static void buf_add(struct buf *b, const void *d, size_t n) {
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2 + 4096;
    b->data = realloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, d, n);
  b->len += n;
}

static void buf_drop(struct buf *b, size_t n) {
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

static void put32(unsigned char *p, uint32_t v) {
  p[0] = v >> 24, p[1] = v >> 16, p[2] = v >> 8, p[3] = v;
}

static uint32_t get32(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* Queues one frame to the host; dropped while no host is connected. */
static void send_frame(int type, uint32_t session, const void *data, size_t len) {
  if (A.fd < 0 || !A.connected) return;
  unsigned char h[FRAME_HDR];
  h[0] = type;
  put32(h + 1, session);
  put32(h + 5, len);
  buf_add(&A.out, h, FRAME_HDR);
  if (len) buf_add(&A.out, data, len);
}

static void send_text(int type, uint32_t session, const char *text) { send_frame(type, session, text, strlen(text)); }

static int wait_status(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

static void end_session(struct session *s) {
  if (s->tty) s->in = -1;
  close_fd(&s->in);
  close_fd(&s->out);
  close_fd(&s->err);
  free(s->inq.data);
  free(s->spec);
  memset(s, 0, sizeof *s);
  s->in = s->out = s->err = -1;
}

/* Host went away: its sessions cannot be reached any more, so they are killed. */
static void host_gone(void) {
  A.connected = 0;
  A.out.len = A.in.len = 0;
  for (int i = 0; i < MAX_SESSIONS; i++) {
    if (!A.s[i].id) continue;
    if (!A.s[i].exited) kill(-A.s[i].pid, SIGKILL), kill(A.s[i].pid, SIGKILL);
    A.s[i].id = UINT32_MAX; /* reaped later, reported to nobody */
    close_fd(&A.s[i].out);
    close_fd(&A.s[i].err);
  }
}

static struct session *find_session(uint32_t id) {
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (A.s[i].id == id && id) return &A.s[i];
  return NULL;
}

static void send_ready(void) {
  struct utsname u;
  uname(&u);
  char text[512];
  snprintf(text, sizeof text, "release=%s\nworkload=%d\nuptime=%.3f\nmode=%s\n", u.release, A.workload,
           uptime_s(), A.c->mode);
  send_text(F_READY, 0, text);
}

static int open_pty(int *master, char **slave, int cols, int rows) {
  *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*master < 0 || grantpt(*master) || unlockpt(*master) || !(*slave = ptsname(*master))) return -1;
  if (cols > 0 && rows > 0) {
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    ioctl(*master, TIOCSWINSZ, &ws);
  }
  return 0;
}

static void child_stdio(struct proc_spec *p, char *slave, int fds[3][2]) {
  setsid();
  if (slave) {
    int t = open(slave, O_RDWR);
    ioctl(t, TIOCSCTTY, 0);
    dup2(t, 0), dup2(t, 1), dup2(t, 2);
    return;
  }
  int in = p->use_stdin ? fds[0][0] : open("/dev/null", O_RDONLY);
  dup2(in, 0), dup2(fds[1][1], 1), dup2(fds[2][1], 2);
}

static void start_exec(uint32_t id, const char *payload, size_t len) {
  struct session *s = NULL;
  for (int i = 0; i < MAX_SESSIONS && !s; i++)
    if (!A.s[i].id) s = &A.s[i];
  char *spec = malloc(len + 1);
  memcpy(spec, payload, len);
  spec[len] = 0;
  struct proc_spec p;
  if (!s || parse_spec(spec, &p)) {
    free(spec);
    send_text(F_FAIL, id, s ? "empty command" : "too many exec sessions");
    return;
  }
  int master = -1, fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
  char *slave = NULL;
  int boxed = A.c->sandbox && A.workload > 0;
  int bad = p.tty ? (boxed ? sandbox_open_pty(A.workload, &master, p.cols, p.rows)
                           : open_pty(&master, &slave, p.cols, p.rows))
                  : (pipe2(fds[0], O_CLOEXEC) | pipe2(fds[1], O_CLOEXEC) | pipe2(fds[2], O_CLOEXEC));
  pid_t pid = bad ? -1 : boxed ? sandbox_fork(A.workload) : fork();
  if (pid == 0 && boxed) {
    if (p.tty) setsid(), sandbox_attach_pty(master);
    else child_stdio(&p, NULL, fds);
    sandbox_enter(A.workload);
    setup_child(&p, 0, NULL);
  }
  if (pid == 0) {
    child_stdio(&p, slave, fds);
    setup_child(&p, 0, CGROUP "/cgroup.procs");
  }
  for (int i = 0; i < 3; i++) close_fd(&fds[i][i == 0 ? 0 : 1]);
  if (pid < 0) {
    close_fd(&master);
    for (int i = 0; i < 3; i++) close_fd(&fds[i][i == 0 ? 1 : 0]);
    free(spec);
    send_text(F_FAIL, id, strerror(errno));
    return;
  }
  memset(s, 0, sizeof *s);
  s->id = id, s->pid = pid, s->tty = p.tty, s->spec = spec;
  s->in = p.tty ? master : fds[0][1];
  s->out = p.tty ? master : fds[1][0];
  s->err = p.tty ? -1 : fds[2][0];
  if (!p.use_stdin && !p.tty) close_fd(&s->in);
  if (s->in >= 0) set_nonblock(s->in);
  set_nonblock(s->out);
  if (s->err >= 0) set_nonblock(s->err);
}

static void on_stdin(struct session *s, const char *d, size_t n) {
  if (n == 0) {
    s->in_eof = 1;
    if (s->tty) buf_add(&s->inq, "\x04", 1);
  } else {
    buf_add(&s->inq, d, n);
  }
}

/* Feeds the workload's stdin without blocking; closes the pipe after EOF once drained. */
static void flush_win(void) {
  while (A.win >= 0 && A.winq.len) {
    ssize_t w = write(A.win, A.winq.data, A.winq.len);
    if (w < 0 && errno == EAGAIN) return;
    if (w <= 0) {
      A.winq.len = 0;
      break;
    }
    buf_drop(&A.winq, w);
  }
  if (A.win_eof && !A.winq.len && A.win >= 0 && A.win != A.wtty) close_fd(&A.win);
}

static void workload_input(int type, const char *d, size_t n) {
  if (type == F_RESIZE && A.wtty >= 0) {
    char text[64];
    int cols = 0, rows = 0;
    snprintf(text, sizeof text, "%.*s", (int)(n < 63 ? n : 63), d);
    sscanf(text, "%d %d", &cols, &rows);
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    ioctl(A.wtty, TIOCSWINSZ, &ws);
  } else if (type == F_STDIN && A.win >= 0) {
    if (n) buf_add(&A.winq, d, n);
    else if (A.win == A.wtty) buf_add(&A.winq, "\x04", 1);
    else A.win_eof = 1;
    flush_win();
  }
}

static void on_frame(int type, uint32_t id, const char *d, size_t n) {
  struct session *s = find_session(id);
  char text[64];
  if (id == 0 && (type == F_STDIN || type == F_RESIZE)) {
    workload_input(type, d, n);
  } else if (type == F_HELLO) {
    send_ready();
  } else if (type == F_EXEC) {
    start_exec(id, d, n);
  } else if (type == F_STDIN && s) {
    on_stdin(s, d, n);
  } else if (type == F_RESIZE && s && s->tty) {
    int cols = 0, rows = 0;
    snprintf(text, sizeof text, "%.*s", (int)(n < 63 ? n : 63), d);
    sscanf(text, "%d %d", &cols, &rows);
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    ioctl(s->out, TIOCSWINSZ, &ws);
  } else if (type == F_STATS) {
    char stats[512];
    int len = cgroup_stats(stats, sizeof stats);
    send_frame(F_STATS_REPLY, id, stats, len > 0 && len < (int)sizeof stats ? len : 0);
  } else if (type == F_SIGNAL) {
    snprintf(text, sizeof text, "%.*s", (int)(n < 63 ? n : 63), d);
    pid_t target = id == 0 ? A.workload : s ? s->pid : 0;
    if (id == 0 && !strcmp(A.c->mode, "system")) target = 1;
    if (target > 0) kill(target, atoi(text));
  }
}

static void read_agent(void) {
  char tmp[65536];
  for (;;) {
    ssize_t r = read(A.fd, tmp, sizeof tmp);
    if (r > 0) {
      buf_add(&A.in, tmp, r);
      continue;
    }
    if (r == 0) host_gone();
    break;
  }
  while (A.in.len >= FRAME_HDR) {
    const unsigned char *h = (const unsigned char *)A.in.data;
    uint32_t len = get32(h + 5);
    if (len > FRAME_MAX) {
      host_gone();
      return;
    }
    if (A.in.len < FRAME_HDR + len) break;
    on_frame(h[0], get32(h + 1), A.in.data + FRAME_HDR, len);
    if (A.in.len >= FRAME_HDR + len) buf_drop(&A.in, FRAME_HDR + len);
  }
}

static void flush_agent(void) {
  while (A.out.len && A.connected) {
    ssize_t w = write(A.fd, A.out.data, A.out.len);
    if (w <= 0) break;
    buf_drop(&A.out, w);
  }
}

static void flush_stdin(struct session *s) {
  while (s->inq.len && s->in >= 0) {
    ssize_t w = write(s->in, s->inq.data, s->inq.len);
    if (w < 0 && errno == EAGAIN) return;
    if (w <= 0) {
      s->inq.len = 0;
      break;
    }
    buf_drop(&s->inq, w);
  }
  if (s->in_eof && !s->inq.len && !s->tty) close_fd(&s->in);
}

/* Reads what a session printed; 1 when the stream ended. */
static int pump(struct session *s, int *fd, int type) {
  char tmp[32768];
  for (;;) {
    ssize_t r = read(*fd, tmp, sizeof tmp);
    if (r > 0) {
      if (s->id != UINT32_MAX) send_frame(type, s->id, tmp, r);
      if (A.out.len > OUT_HIGH) return 0;
      continue;
    }
    if (r < 0 && errno == EAGAIN) return 0;
    if (s->tty) s->in = -1;
    close_fd(fd);
    return 1;
  }
}

static void finish_sessions(void) {
  for (int i = 0; i < MAX_SESSIONS; i++) {
    struct session *s = &A.s[i];
    if (!s->id || !s->exited) continue;
    if (s->tty && s->out >= 0) pump(s, &s->out, F_STDOUT), s->in = -1, close_fd(&s->out);
    if (s->out >= 0 || s->err >= 0) continue;
    char text[16];
    snprintf(text, sizeof text, "%d", s->status);
    if (s->id != UINT32_MAX) send_text(F_EXIT, s->id, text);
    end_session(s);
  }
}

static void write_status(int code) {
  char text[64];
  /* an OOM kill in the workload's cgroup is part of how the run ended (as for containers) */
  int n = snprintf(text, sizeof text, "%sexit %d\n", cgroup_oom_kills() ? "oom-killed\n" : "", code);
  if (A.statusfd >= 0 && write(A.statusfd, text, n) != n) logmsg("writing the exit status failed");
  snprintf(text, sizeof text, "%d", code);
  send_text(F_EXIT, 0, text);
}

static void reap_all(int ms) {
  for (int i = 0; i < ms / 10; i++) {
    pid_t p = waitpid(-1, NULL, WNOHANG);
    if (p < 0) return;
    if (p == 0) usleep(10000);
  }
}

/* The workload is gone: report its status, end every process, power off. */
static void power_off(int code) {
  write_status(code);
  set_nonblock(A.fd);
  for (int i = 0; i < 30 && A.out.len && A.connected; i++) flush_agent(), usleep(10000);
  kill(-1, SIGTERM);
  reap_all(500);
  kill(-1, SIGKILL);
  reap_all(200);
  sync();
  mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
  reboot(RB_POWER_OFF);
  _exit(0);
}

static void spawn_shell(void) {
  if (!A.c->console_shell || access("/bin/sh", X_OK)) return;
  A.shell_started = time(NULL);
  A.shell = fork();
  if (A.shell == 0) {
    struct proc_spec p = {.argv = {"/bin/sh", NULL}, .argc = 1, .envp = {"TERM=vt100", NULL}, .envc = 1, .cwd = "/", .user = "0:0"};
    child_stdio(&p, "/dev/ttyS0", NULL);
    setup_child(&p, 0, NULL);
  }
}

static void on_child(pid_t pid, int st) {
  if (pid == A.shell) {
    /* respawn the console shell, unless it keeps dying at once */
    A.shell_fast = time(NULL) - A.shell_started < 2 ? A.shell_fast + 1 : 0;
    A.shell = -1;
    if (A.shell_fast < 5) spawn_shell();
    return;
  }
  if (pid == A.workload) {
    if (A.wtty >= 0) {
      char tmp[4096];
      ssize_t r;
      while ((r = read(A.wtty, tmp, sizeof tmp)) > 0 && write(A.logfd, tmp, r) == r) {}
    }
    power_off(wait_status(st));
  }
  for (int i = 0; i < MAX_SESSIONS; i++)
    if (A.s[i].id && A.s[i].pid == pid && !A.s[i].exited) A.s[i].exited = 1, A.s[i].status = wait_status(st);
}

static void on_signal(void) {
  struct signalfd_siginfo si;
  while (read(A.sigfd, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGIO && A.fd >= 0) A.connected = 1;
    if (si.ssi_signo == SIGTERM && getpid() != 1) _exit(0); /* system mode: the image's init stops us */
    if (si.ssi_signo == SIGINT && A.workload > 0 && !A.term_sent++) kill(A.workload, SIGTERM);
  }
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) on_child(pid, st);
}

static void on_power(int i) {
  struct {
    struct timespec t; /* struct timeval on x86_64: two longs */
    uint16_t type, code;
    int32_t value;
  } ev;
  ssize_t r;
  while ((r = read(A.power[i], &ev, sizeof ev)) == sizeof ev) {
    if (ev.type != EV_KEY_ || ev.code != KEY_POWER_ || ev.value != 1) continue;
    logmsg("power button: stopping the workload");
    if (A.workload > 0 && !A.term_sent++) kill(A.workload, SIGTERM);
  }
  if (r < 0 && errno == EAGAIN) return;
  close(A.power[i]); /* the device went away (e.g. rmmod button) */
  A.power[i] = A.power[--A.npower];
}

static void open_power_buttons(void) {
  DIR *d = opendir("/sys/class/input");
  struct dirent *e;
  while (d && (e = readdir(d)) && A.npower < 4) {
    if (strncmp(e->d_name, "event", 5)) continue;
    char p[300];
    snprintf(p, sizeof p, "/sys/class/input/%s/device/name", e->d_name);
    char *name = read_file(p, NULL);
    if (name && strstr(name, "Power Button")) {
      snprintf(p, sizeof p, "/dev/input/%s", e->d_name);
      int fd = open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) A.power[A.npower++] = fd;
    }
    free(name);
  }
  if (d) closedir(d);
}

static int open_port(const char *name, int flags) {
  char path[64];
  return wait_port(name, path, sizeof path, 3000) ? -1 : open(path, flags | O_CLOEXEC);
}

/* Blocks the signals the agent reads from its signalfd. PID 1 calls it before it forks the
 * workload: a workload that ends at once must leave its SIGCHLD pending, not discarded (an
 * unblocked SIGCHLD with the default action is dropped, and the guest would never power off). */
void agent_block_signals(sigset_t *set) {
  sigemptyset(set);
  int sigs[] = {SIGCHLD, SIGIO, SIGINT, SIGTERM, SIGHUP, SIGPIPE};
  for (unsigned i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(set, sigs[i]);
  sigprocmask(SIG_BLOCK, set, NULL);
}

static void setup(struct config *c, pid_t workload, int wtty, int win) {
  memset(&A, 0, sizeof A);
  A.c = c, A.workload = workload, A.wtty = wtty, A.win = win, A.shell = -1;
  if (win >= 0) set_nonblock(win);
  for (int i = 0; i < MAX_SESSIONS; i++) A.s[i].in = A.s[i].out = A.s[i].err = -1;
  sigset_t set;
  agent_block_signals(&set);
  A.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  A.fd = open_port("tandem.agent", O_RDWR | O_NONBLOCK);
  if (A.fd >= 0) {
    fcntl(A.fd, F_SETOWN, getpid());
    fcntl(A.fd, F_SETFL, fcntl(A.fd, F_GETFL) | O_ASYNC);
    A.connected = 1;
  }
  /* the port has one opener: PID 1 opened it for the workload (system mode: the agent opens it) */
  A.logfd = boot_logfd >= 0 ? boot_logfd : open_port("tandem.log", O_WRONLY);
  A.statusfd = strcmp(c->mode, "system") ? open_port("tandem.status", O_WRONLY) : -1;
  if (getpid() == 1) open_power_buttons(), reboot(RB_DISABLE_CAD);
  if (getpid() == 1) spawn_shell();
  if (A.wtty >= 0) set_nonblock(A.wtty);
}

/* Runs the agent until the workload exits (then powers off; PID 1) or forever (system mode). */
int agent_main(struct config *c, pid_t workload, int wtty, int win) {
  setup(c, workload, wtty, win);
  /* Data the host sent before this port was open was discarded by the guest kernel: announce
   * readiness unasked (dropped when no host is connected; it then sends HELLO). */
  send_ready();
  logmsg("agent ready after %.3f s", uptime_s());
  for (;;) {
    struct pollfd pf[4 + 2 * MAX_SESSIONS + 4];
    struct session *ps[4 + 2 * MAX_SESSIONS + 4];
    int n = 0;
    pf[n++] = (struct pollfd){A.sigfd, POLLIN, 0};
    int ai = -1;
    if (A.fd >= 0 && A.connected) ai = n, pf[n++] = (struct pollfd){A.fd, POLLIN | (A.out.len ? POLLOUT : 0), 0};
    for (int i = 0; i < A.npower; i++) pf[n++] = (struct pollfd){A.power[i], POLLIN, 0};
    int wi = A.wtty >= 0 ? n : -1;
    if (wi >= 0) pf[n++] = (struct pollfd){A.wtty, POLLIN, 0};
    int first = n;
    for (int i = 0; i < MAX_SESSIONS; i++) {
      struct session *s = &A.s[i];
      if (!s->id) continue;
      short rd = A.out.len < OUT_HIGH ? POLLIN : 0;
      if (s->out >= 0) ps[n] = s, pf[n++] = (struct pollfd){s->out, rd | (s->tty && s->inq.len ? POLLOUT : 0), 0};
      if (s->err >= 0) ps[n] = s, pf[n++] = (struct pollfd){s->err, rd, 0};
      if (!s->tty && s->in >= 0 && s->inq.len) ps[n] = s, pf[n++] = (struct pollfd){s->in, POLLOUT, 0};
    }
    int timeout = (A.fd >= 0 && !A.connected) ? 1000 : -1;
    if (A.winq.len) timeout = 20; /* the workload's stdin is full: retry soon */
    if (poll(pf, n, timeout) < 0 && errno != EINTR) continue;
    if (timeout == 1000 && A.fd >= 0) A.connected = 1; /* retry: SIGIO may have been missed */
    flush_win();
    if (pf[0].revents) on_signal();
    if (ai >= 0 && pf[ai].revents & POLLIN) read_agent();
    if (ai >= 0 && pf[ai].revents & POLLHUP && !(pf[ai].revents & POLLIN)) host_gone();
    if (ai >= 0 && pf[ai].revents & POLLOUT) flush_agent();
    for (int i = A.npower - 1; i >= 0; i--)
      if (pf[ai >= 0 ? ai + 1 + i : 1 + i].revents) on_power(i);
    if (wi >= 0 && pf[wi].revents) {
      char tmp[8192];
      ssize_t r = read(A.wtty, tmp, sizeof tmp);
      if (r > 0 && write(A.logfd, tmp, r) != r) {}
      if (r <= 0 && errno != EAGAIN) close_fd(&A.wtty);
    }
    for (int i = first; i < n; i++) {
      struct session *s = ps[i];
      if (!pf[i].revents || !s->id) continue;
      if (pf[i].fd == s->out && pf[i].revents & (POLLIN | POLLHUP | POLLERR)) pump(s, &s->out, F_STDOUT);
      else if (pf[i].fd == s->err && pf[i].revents & (POLLIN | POLLHUP | POLLERR)) pump(s, &s->err, F_STDERR);
      if (s->inq.len && pf[i].revents & POLLOUT) flush_stdin(s);
    }
    for (int i = 0; i < MAX_SESSIONS; i++)
      if (A.s[i].id && A.s[i].in >= 0 && (A.s[i].inq.len || A.s[i].in_eof)) flush_stdin(&A.s[i]);
    finish_sessions();
    if (A.out.len) flush_agent();
  }
}
