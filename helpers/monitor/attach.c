/*
 * The attach socket (see attach.h). Nothing here may block the monitor: client sockets and
 * the stdin target are non-blocking, output for a client queues (a client more than 4 MiB
 * behind is dropped), and client input is read only while the stdin queue has room, so a
 * container that does not read its stdin pushes back on the client, not on the monitor.
 * A new client is held until its first frame says whether it wants the run's output so far.
 */
#define _GNU_SOURCE
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define CLIENT_OUT_MAX (4u << 20)
#define FRAME_IN_MAX (1u << 20)
#define STDIN_ROOM (256u << 10)

struct buf {
  char *p;
  size_t len, cap;
};

struct client {
  int fd, greeted, dead;
  unsigned long long mark; /* output offset when it connected */
  struct buf out, in;
};

struct attach {
  int listen_fd, stdin_fd, tty, stdin_eof, tty_fd;
  char path[108];
  struct client cl[ATTACH_MAX_CLIENTS];
  int ncl;
  struct buf replay, stdin_q;
  size_t replay_cap;
  unsigned long long replay_base; /* output offset of replay.p[0] */
  int map[ATTACH_MAX_POLLFDS];    /* poll entry -> -1 listen, -2 stdin, else client index */
  dev_t sock_dev;                 /* the socket file we made (a later run may replace it) */
  ino_t sock_ino;
  int ended;                      /* the exit frame is queued for every client, new ones too */
  char exit_frame[5 + 16];
  size_t exit_len;
  int served;                     /* clients that received the exit frame (attach_linger) */
};

static int buf_add(struct buf *b, const void *d, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, d, n);
  b->len += n;
  return 0;
}

static void buf_drop(struct buf *b, size_t n) {
  memmove(b->p, b->p + n, b->len - n);
  b->len -= n;
}

static void frame_header(char h[5], int type, size_t n) {
  h[0] = (char)type;
  h[1] = (char)(n >> 24);
  h[2] = (char)(n >> 16);
  h[3] = (char)(n >> 8);
  h[4] = (char)n;
}

static size_t frame_len(const char *h) {
  const unsigned char *u = (const unsigned char *)h;
  return ((size_t)u[1] << 24) | ((size_t)u[2] << 16) | ((size_t)u[3] << 8) | u[4];
}

static void drop_client(struct attach *a, int i) {
  close(a->cl[i].fd);
  free(a->cl[i].out.p);
  free(a->cl[i].in.p);
  a->cl[i] = a->cl[--a->ncl];
}

static void queue(struct attach *a, int i, const char *d, size_t n) {
  struct client *c = &a->cl[i];
  if (c->dead || c->out.len + n > CLIENT_OUT_MAX || buf_add(&c->out, d, n) < 0) c->dead = 1;
}

struct attach *attach_open(const char *path, size_t replay_cap) {
  struct attach *a = calloc(1, sizeof *a);
  if (!a || strlen(path) >= sizeof a->path) return free(a), NULL;
  strcpy(a->path, path);
  a->replay_cap = replay_cap;
  a->stdin_fd = -1;
  a->tty_fd = -1;
  a->listen_fd = listen_unix(path);
  if (a->listen_fd < 0) return free(a), NULL;
  fcntl(a->listen_fd, F_SETFL, O_NONBLOCK);
  struct stat st;
  if (stat(path, &st) == 0) a->sock_dev = st.st_dev, a->sock_ino = st.st_ino;
  return a;
}

/* Closes the listener and removes its socket file, unless a later run already replaced it. */
static void close_listener(struct attach *a) {
  close(a->listen_fd);
  a->listen_fd = -1;
  struct stat st;
  if (stat(a->path, &st) == 0 && st.st_dev == a->sock_dev && st.st_ino == a->sock_ino) unlink(a->path);
}

void attach_set_tty(struct attach *a, int master) {
  a->tty_fd = master;
}

void attach_set_stdin(struct attach *a, int fd, int tty) {
  a->stdin_fd = fd;
  a->tty = tty;
  if (fd >= 0 && !tty) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int attach_pollfds(struct attach *a, struct pollfd *pf) {
  int n = 0;
  a->map[n] = -1;
  pf[n++] = (struct pollfd){.fd = a->ncl < ATTACH_MAX_CLIENTS ? a->listen_fd : -1, .events = POLLIN};
  a->map[n] = -2;
  pf[n++] = (struct pollfd){.fd = a->stdin_q.len ? a->stdin_fd : -1, .events = POLLOUT};
  for (int i = 0; i < a->ncl; i++) {
    short ev = a->stdin_q.len < STDIN_ROOM ? POLLIN : 0;
    if (a->cl[i].out.len || a->cl[i].dead) ev |= POLLOUT;
    a->map[n] = i;
    pf[n++] = (struct pollfd){.fd = a->cl[i].fd, .events = ev};
  }
  return n;
}

static void greet(struct attach *a, int i, int replay) {
  struct client *c = &a->cl[i];
  unsigned long long from = replay ? a->replay_base : c->mark;
  if (from < a->replay_base) from = a->replay_base;
  c->greeted = 1;
  size_t skip = (size_t)(from - a->replay_base);
  if (skip < a->replay.len) queue(a, i, a->replay.p + skip, a->replay.len - skip);
  if (a->ended) queue(a, i, a->exit_frame, a->exit_len);
}

static void close_stdin_if_done(struct attach *a) {
  if (!a->stdin_eof || a->stdin_q.len || a->stdin_fd < 0) return;
  if (a->tty) {
    struct termios t;
    char eof = tcgetattr(a->stdin_fd, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
    if (write(a->stdin_fd, &eof, 1) < 0) return;
  } else {
    close(a->stdin_fd);
  }
  a->stdin_fd = -1;
}

static void on_frame(struct attach *a, int i, int type, const char *d, size_t n) {
  char text[64];
  if (type == FRAME_REPLAY && !a->cl[i].greeted) greet(a, i, n > 0 && d[0] == '1');
  else if (type == FRAME_STDIN && a->stdin_fd >= 0 && !a->stdin_eof) buf_add(&a->stdin_q, d, n);
  else if (type == FRAME_EOF) a->stdin_eof = 1;
  else if (type == FRAME_RESIZE && a->tty_fd >= 0 && n < sizeof text) {
    int cols, rows;
    memcpy(text, d, n);
    text[n] = '\0';
    if (sscanf(text, "%d %d", &cols, &rows) == 2 && cols > 0 && rows > 0) {
      struct winsize ws = {.ws_col = (unsigned short)cols, .ws_row = (unsigned short)rows};
      ioctl(a->tty_fd, TIOCSWINSZ, &ws);
    }
  }
  close_stdin_if_done(a);
}

/* Reads what a client sent; returns -1 when it should be dropped. */
static int client_read(struct attach *a, int i) {
  char tmp[65536];
  ssize_t r = read(a->cl[i].fd, tmp, sizeof tmp);
  if (r < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  if (r == 0) return -1;
  struct buf *in = &a->cl[i].in;
  if (buf_add(in, tmp, (size_t)r) < 0) return -1;
  while (in->len >= 5) {
    size_t n = frame_len(in->p);
    if (n > FRAME_IN_MAX) return -1;
    if (in->len < 5 + n) break;
    if (!a->cl[i].greeted && in->p[0] != FRAME_REPLAY) greet(a, i, 0);
    on_frame(a, i, in->p[0], in->p + 5, n);
    buf_drop(in, 5 + n);
  }
  return 0;
}

static int client_write(struct client *c) {
  if (c->dead) return -1;
  ssize_t w = write(c->fd, c->out.p, c->out.len);
  if (w < 0) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  buf_drop(&c->out, (size_t)w);
  return 0;
}

static void on_stdin_writable(struct attach *a) {
  ssize_t w = write(a->stdin_fd, a->stdin_q.p, a->stdin_q.len);
  if (w > 0) buf_drop(&a->stdin_q, (size_t)w);
  else if (w < 0 && errno != EAGAIN && errno != EINTR) a->stdin_q.len = 0; /* reader gone */
  close_stdin_if_done(a);
}

void attach_handle(struct attach *a, struct pollfd *pf, int n) {
  for (int k = n - 1; k >= 0; k--) { /* from the end: dropping a client moves the last one */
    if (!pf[k].revents) continue;
    int who = a->map[k];
    if (who == -1) {
      int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) continue;
      a->cl[a->ncl++] = (struct client){.fd = fd, .mark = a->replay_base + a->replay.len};
    } else if (who == -2) {
      on_stdin_writable(a);
    } else {
      int bad = (pf[k].revents & (POLLERR | POLLNVAL)) != 0;
      if (!bad && (pf[k].revents & (POLLIN | POLLHUP))) bad = client_read(a, who) < 0;
      if (!bad && (pf[k].revents & POLLOUT)) bad = client_write(&a->cl[who]) < 0;
      if (bad) drop_client(a, who);
    }
  }
}

void attach_output(struct attach *a, int stream, const char *buf, size_t n) {
  char h[5];
  frame_header(h, stream, n);
  if (a->replay_cap > 0) {
    buf_add(&a->replay, h, 5);
    buf_add(&a->replay, buf, n);
    while (a->replay.len > a->replay_cap) { /* drop whole frames, down to 3/4 of the cap */
      size_t drop = 0;
      while (drop + 5 <= a->replay.len && a->replay.len - drop > a->replay_cap * 3 / 4)
        drop += 5 + frame_len(a->replay.p + drop);
      buf_drop(&a->replay, drop);
      a->replay_base += drop;
    }
  } else {
    a->replay_base += 5 + n;
  }
  for (int i = 0; i < a->ncl; i++) {
    if (!a->cl[i].greeted) continue;
    queue(a, i, h, 5);
    queue(a, i, buf, n);
  }
}

/* Queues the exit frame for the greeted clients, and (greet) for every client greeted later. */
static void mark_ended(struct attach *a, int code) {
  char text[16];
  int n = snprintf(text, sizeof text, "%d", code);
  frame_header(a->exit_frame, FRAME_EXIT, (size_t)n);
  memcpy(a->exit_frame + 5, text, (size_t)n);
  a->exit_len = 5 + (size_t)n;
  a->ended = 1;
  a->stdin_fd = -1; /* nothing reads stdin any more */
  for (int i = 0; i < a->ncl; i++)
    if (a->cl[i].greeted) queue(a, i, a->exit_frame, a->exit_len);
}

void attach_linger(struct attach *a, int code, int ms, int stop_fd) {
  mark_ended(a, code);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    /* a greeted client with nothing left to receive has had everything: let it go */
    for (int i = a->ncl - 1; i >= 0; i--) {
      if (a->cl[i].greeted && (a->cl[i].out.len == 0 || a->cl[i].dead)) {
        a->served += !a->cl[i].dead;
        drop_client(a, i);
      }
    }
    if (a->served > 0 && a->ncl == 0) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (waited >= ms) break;
    struct pollfd pf[ATTACH_MAX_POLLFDS + 1];
    int n = attach_pollfds(a, pf);
    pf[n] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
    if (poll(pf, (nfds_t)n + 1, (int)(ms - waited)) < 0 && errno != EINTR) break;
    if (pf[n].revents) { /* SIGTERM: the instance is being deleted or started again */
      struct signalfd_siginfo si;
      if (read(stop_fd, &si, sizeof si) == (ssize_t)sizeof si && si.ssi_signo != SIGCHLD &&
          si.ssi_signo != SIGWINCH)
        break;
    }
    attach_handle(a, pf, n);
  }
  while (a->ncl) drop_client(a, 0);
  close_listener(a);
}

void attach_finish(struct attach *a, int code) {
  for (int i = 0; i < a->ncl; i++)
    if (!a->cl[i].greeted) greet(a, i, 0);
  mark_ended(a, code);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    struct pollfd pf[ATTACH_MAX_CLIENTS];
    int m = 0;
    for (int i = 0; i < a->ncl; i++)
      if (a->cl[i].out.len && !a->cl[i].dead) pf[m++] = (struct pollfd){.fd = a->cl[i].fd, .events = POLLOUT};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (m == 0 || waited >= 1000 || poll(pf, (nfds_t)m, (int)(1000 - waited)) <= 0) break;
    for (int i = 0; i < a->ncl; i++)
      if (a->cl[i].out.len && client_write(&a->cl[i]) < 0) a->cl[i].out.len = 0, a->cl[i].dead = 1;
  }
  while (a->ncl) drop_client(a, 0);
  close_listener(a);
}
