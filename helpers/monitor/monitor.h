/* The monitor's modes and the pieces they share (see main.c for the command line). */
#ifndef TANDEM_MONITOR_H
#define TANDEM_MONITOR_H

#include <stddef.h>

/* A log file with a size cap: a write that would pass `max` bytes fills the file up to the
 * last whole line that fits, the file becomes `path.1` (replacing the previous one) and a new
 * file takes the rest, so neither file exceeds max bytes. max = 0 means no cap. */
struct log {
  int fd;
  long long size, max;
  const char *path;
};

/* Opens (appends to) the log; returns 0 or -1. */
int log_open(struct log *l, const char *path, long long max);

/* Appends n bytes, rotating first when the cap would be passed. */
void log_write(struct log *l, const char *buf, size_t n);

struct run_opts {
  const char *dir, *run_id, *log_path, *console;
  long long log_max;
  const char *lower, *upper, *work, *merged, *scratch;
  /* "HOSTID:COUNT": mount the lower layers idmapped (container 0 = HOSTID), see idmap.c */
  const char *idmap;
  const char *oom_v1, *oom_v2;
  const char *attach;
  long long replay_max;
  int stdin_open;
  /* after the exit, keep the attach socket this long for a client that attaches late */
  int linger_ms;
  char **crun_argv;
};

/* Idmapped bind mounts of the colon-separated `lower` dirs at DIR/0, DIR/1, ... (`spec` is
 * "HOSTID:COUNT"); writes the new colon-separated list into out. Returns 0, or -1 with errno. */
int idmap_layers(const char *lower, const char *spec, const char *dir, char *out, size_t cap);

/* `run` mode: see run.c. Returns the exit status of the process Tandem spawned. */
int run_main(struct run_opts *o);

/* `run` without printing: 0 with "PID\n" in out once the container runs, or 1 with the reason. */
int run_launch(struct run_opts *o, char *out, size_t cap);

/* Parses `run` options from argv[from] on (usage errors die with status 125). */
void parse_run_opts(int argc, char **argv, int from, struct run_opts *o);

/* `launcher` mode: see launcher.c. */
int launcher_main(int argc, char **argv);

/* Writes the launcher's one-line answer "ID WORD TEXT" to fd (one write, under PIPE_BUF). */
void launcher_answer(int fd, const char *id, const char *word, const char *text);

/* In a child of the launcher: becomes the monitor (new session) and answers on answer_fd. */
void run_for_launcher(struct run_opts *o, const char *id, int answer_fd) __attribute__((noreturn));

struct tty_opts {
  const char *socket;
  int cols, rows, stdin_open;
  char **crun_argv;
};

/* `tty-exec` mode: see tty-exec.c. */
int tty_exec_main(struct tty_opts *o);

#endif
