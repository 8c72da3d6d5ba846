/*
 * The attach socket of a running container (see attach.c): clients receive the container's
 * output (optionally replayed from the start of the run, up to a cap) and its exit status, and
 * send stdin, stdin EOF and terminal resizes. Frames are [type:1][length:4, big-endian][data].
 */
#ifndef TANDEM_MONITOR_ATTACH_H
#define TANDEM_MONITOR_ATTACH_H

#include <poll.h>
#include <stddef.h>

enum {
  FRAME_STDIN = 0,  /* client -> monitor: bytes for the container's stdin */
  FRAME_STDOUT = 1, /* monitor -> client */
  FRAME_STDERR = 2, /* monitor -> client */
  FRAME_EXIT = 3,   /* monitor -> client: the exit status as decimal text; the last frame */
  FRAME_EOF = 4,    /* client -> monitor: close the container's stdin */
  FRAME_RESIZE = 5, /* client -> monitor: "COLS ROWS" for the terminal */
  FRAME_REPLAY = 6, /* client -> monitor, first frame only: "1" to receive the run's output so far */
};

#define ATTACH_MAX_CLIENTS 8
#define ATTACH_MAX_POLLFDS (2 + ATTACH_MAX_CLIENTS)

struct attach;

/* Listens at `path`; keeps up to `replay_cap` bytes of output for replays. NULL on failure. */
struct attach *attach_open(const char *path, size_t replay_cap);

/* Where client stdin goes (a pipe's write end, or the pty master when `tty`); -1 for none. */
void attach_set_stdin(struct attach *a, int fd, int tty);

/* The pty master that resize frames apply to. */
void attach_set_tty(struct attach *a, int master);

/* Fills poll entries (listen socket, clients, stdin target); returns how many. */
int attach_pollfds(struct attach *a, struct pollfd *pf);

/* Handles the revents of the entries attach_pollfds filled. */
void attach_handle(struct attach *a, struct pollfd *pf, int n);

/* Records and broadcasts container output of `stream` (FRAME_STDOUT or FRAME_STDERR). */
void attach_output(struct attach *a, int stream, const char *buf, size_t n);

/* Sends the exit frame, flushes clients (at most ~1 s), closes everything, removes the socket. */
void attach_finish(struct attach *a, int code);

/* attach_finish for a workload whose client may attach late: clients that connect within `ms`
 * still get the output (replayed on request) and the exit status; returns once one client was
 * served and none is left, at `ms`, or when `stop_fd` (a signalfd) becomes readable. */
void attach_linger(struct attach *a, int code, int ms, int stop_fd);

#endif
