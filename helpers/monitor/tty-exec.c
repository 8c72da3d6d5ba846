/*
 * `tandem-monitor tty-exec`: runs `crun exec` with a terminal and relays it over stdio.
 * crun creates the pty inside the container and sends its master over the console socket
 * (SCM_RIGHTS), which Node cannot receive; this mode receives it, sets the window size,
 * copies stdin to the master and the master to stdout, and reads "COLS ROWS\n" lines from
 * fd 3 (when open) to resize. With --stdin, EOF on stdin is sent as the terminal's EOF
 * character (^D); without it stdin is not read at all. Signals it receives go to crun, which
 * forwards them to the process. It exits with crun's status (the command's, 128+N by signal).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "monitor.h"
#include "util.h"

struct tty {
  struct tty_opts o;
  int sig_fd, listen_fd, master_fd, in_fd, resize_fd;
  pid_t crun;
  int crun_status, crun_done;
  char resize_buf[128];
  size_t resize_len;
};

static void set_size(struct tty *t) {
  if (t->master_fd < 0 || t->o.cols <= 0 || t->o.rows <= 0) return;
  struct winsize ws = {.ws_col = (unsigned short)t->o.cols, .ws_row = (unsigned short)t->o.rows};
  ioctl(t->master_fd, TIOCSWINSZ, &ws);
}

static void spawn(struct tty *t) {
  t->crun = fork();
  if (t->crun < 0) die("fork: %s", strerror(errno));
  if (t->crun == 0) {
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    signal(SIGPIPE, SIG_DFL);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(2, 1);
    close_from(3, -1);
    execv(t->o.crun_argv[0], t->o.crun_argv);
    dprintf(2, "tandem-monitor: executing %s: %s\n", t->o.crun_argv[0], strerror(errno));
    _exit(127);
  }
}

static void on_resize(struct tty *t) {
  ssize_t n = read(t->resize_fd, t->resize_buf + t->resize_len, sizeof t->resize_buf - 1 - t->resize_len);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return;
    close(t->resize_fd);
    t->resize_fd = -1;
    return;
  }
  t->resize_len += (size_t)n;
  t->resize_buf[t->resize_len] = '\0';
  char *line = t->resize_buf, *nl;
  while ((nl = strchr(line, '\n'))) {
    int c, r;
    if (sscanf(line, "%d %d", &c, &r) == 2) {
      t->o.cols = c;
      t->o.rows = r;
      set_size(t);
    }
    line = nl + 1;
  }
  t->resize_len = strlen(line);
  memmove(t->resize_buf, line, t->resize_len);
  if (t->resize_len >= sizeof t->resize_buf - 1) t->resize_len = 0;
}

static void on_stdin(struct tty *t) {
  char buf[16384];
  ssize_t n = read(t->in_fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return;
  if (n <= 0) {
    struct termios tio;
    char eof = 4;
    if (tcgetattr(t->master_fd, &tio) == 0) eof = (char)tio.c_cc[VEOF];
    write_all(t->master_fd, &eof, 1);
    t->in_fd = -1;
    return;
  }
  write_all(t->master_fd, buf, (size_t)n);
}

static void on_master(struct tty *t) {
  char buf[65536];
  ssize_t n = read(t->master_fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    close(t->master_fd);
    t->master_fd = -1;
    return;
  }
  write_all(1, buf, (size_t)n);
}

static void on_signal(struct tty *t) {
  struct signalfd_siginfo si;
  if (read(t->sig_fd, &si, sizeof si) != sizeof si) return;
  if (si.ssi_signo != SIGCHLD) {
    if (!t->crun_done) kill(t->crun, (int)si.ssi_signo);
    return;
  }
  int st;
  if (waitpid(t->crun, &st, WNOHANG) == t->crun) {
    t->crun_status = st;
    t->crun_done = 1;
  }
}

static void on_listen(struct tty *t) {
  int c = accept4(t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  t->master_fd = recv_fd(c);
  close(c);
  if (t->master_fd < 0) return;
  close(t->listen_fd);
  t->listen_fd = -1;
  unlink(t->o.socket);
  set_size(t);
}

int tty_exec_main(struct tty_opts *o) {
  static struct tty t;
  t = (struct tty){.o = *o, .master_fd = -1, .in_fd = o->stdin_open ? 0 : -1};
  t.resize_fd = fcntl(3, F_GETFD) >= 0 ? 3 : -1;
  sigset_t mask;
  sigemptyset(&mask);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&mask, sigs[i]);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  t.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
  t.listen_fd = listen_unix(o->socket);
  if (t.sig_fd < 0 || t.listen_fd < 0) die("listening on %s: %s", o->socket, strerror(errno));
  spawn(&t);
  for (;;) {
    if (t.crun_done && (t.master_fd < 0 || t.listen_fd >= 0)) break;
    int idle = t.master_fd >= 0; /* stdin and resizes only matter once the terminal exists */
    struct pollfd pf[5] = {
        {.fd = t.sig_fd, .events = POLLIN},
        {.fd = t.listen_fd, .events = POLLIN},
        {.fd = t.master_fd, .events = POLLIN},
        {.fd = idle ? t.in_fd : -1, .events = POLLIN},
        {.fd = t.resize_fd, .events = POLLIN},
    };
    int n = poll(pf, 5, t.crun_done ? 100 : -1);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) break; /* crun is gone and the terminal is quiet */
    if (pf[0].revents) on_signal(&t);
    if (pf[1].revents) on_listen(&t);
    if (pf[2].revents) on_master(&t);
    if (pf[3].revents) on_stdin(&t);
    if (pf[4].revents) on_resize(&t);
  }
  if (t.listen_fd >= 0) unlink(o->socket);
  return status_code(t.crun_status);
}
