/*
 * tandem-monitor: the small C helper of the container driver (src/drivers/container).
 *
 *   tandem-monitor run --dir RUNDIR --run-id ID --log FILE [--log-max BYTES]
 *       [--lower L1:L2:... --upper DIR --work DIR --merged DIR [--scratch DIR] [--idmap HOSTID:COUNT]]
 *       [--oom-v1 MEMCG_DIR | --oom-v2 CGROUP_DIR] [--console-socket PATH]
 *       [--attach PATH [--replay-max BYTES] [--stdin] [--linger-ms MS]] -- CRUN ARGS...
 *     Parent of one foreground `crun run` (run.c). Prints the container's pid and exits 0 once
 *     it runs; prints crun's error and exits 1 when it does not start. With --scratch, a private
 *     tmpfs covers DIR first and the mount point --merged (below DIR) is created on it. With
 *     --linger-ms, the attach socket outlives the workload until a client got its output and
 *     status (a foreground run that attaches after a short workload ended), MS, or SIGTERM.
 *
 *   tandem-monitor launcher [--prime-cgroup FILE] [PADDING]
 *     Long-lived: forks a `run` per request read on stdin and answers on stdout (launcher.c), so
 *     the daemon starts a container without forking itself. Each monitor retitles itself
 *     (`tandem-monitor run RUNDIR`, for ps) in the space of the launcher's arguments, which
 *     PADDING (spaces) makes room for. FILE: the cgroup.procs of the launcher's own cgroup,
 *     written at each request to start the kernel's wait for an RCU grace period early.
 *
 *   tandem-monitor tty-exec --socket PATH [--cols N --rows N] [--stdin] -- CRUN ARGS...
 *     Runs `crun exec` with a terminal and relays it over stdio, resizes from fd 3 (tty-exec.c).
 *
 * Usage errors exit 125.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "util.h"

static const char *need(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) die("option %s needs a value", argv[*i]);
  return argv[++*i];
}

void parse_run_opts(int argc, char **argv, int from, struct run_opts *o) {
  int i = from;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--dir")) o->dir = need(argc, argv, &i);
    else if (!strcmp(a, "--run-id")) o->run_id = need(argc, argv, &i);
    else if (!strcmp(a, "--log")) o->log_path = need(argc, argv, &i);
    else if (!strcmp(a, "--log-max")) o->log_max = atoll(need(argc, argv, &i));
    else if (!strcmp(a, "--lower")) o->lower = need(argc, argv, &i);
    else if (!strcmp(a, "--upper")) o->upper = need(argc, argv, &i);
    else if (!strcmp(a, "--work")) o->work = need(argc, argv, &i);
    else if (!strcmp(a, "--merged")) o->merged = need(argc, argv, &i);
    else if (!strcmp(a, "--scratch")) o->scratch = need(argc, argv, &i);
    else if (!strcmp(a, "--idmap")) o->idmap = need(argc, argv, &i);
    else if (!strcmp(a, "--oom-v1")) o->oom_v1 = need(argc, argv, &i);
    else if (!strcmp(a, "--oom-v2")) o->oom_v2 = need(argc, argv, &i);
    else if (!strcmp(a, "--console-socket")) o->console = need(argc, argv, &i);
    else if (!strcmp(a, "--attach")) o->attach = need(argc, argv, &i);
    else if (!strcmp(a, "--replay-max")) o->replay_max = atoll(need(argc, argv, &i));
    else if (!strcmp(a, "--stdin")) o->stdin_open = 1;
    else if (!strcmp(a, "--linger-ms")) o->linger_ms = atoi(need(argc, argv, &i));
    else die("unknown option %s", a);
  }
  if (i + 1 >= argc) die("missing -- CRUN ARGS");
  if (o->stdin_open && !o->attach) die("--stdin needs --attach");
  if (o->linger_ms && !o->attach) die("--linger-ms needs --attach");
  if (!o->dir || !o->run_id || !o->log_path) die("run needs --dir, --run-id and --log");
  if (o->merged && (!o->lower || !o->upper || !o->work)) die("--merged needs --lower, --upper and --work");
  if (o->idmap && !o->scratch) die("--idmap needs --scratch");
  o->crun_argv = argv + i + 1;
}

static int parse_tty(int argc, char **argv, struct tty_opts *o) {
  int i = 2;
  for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--socket")) o->socket = need(argc, argv, &i);
    else if (!strcmp(a, "--cols")) o->cols = atoi(need(argc, argv, &i));
    else if (!strcmp(a, "--rows")) o->rows = atoi(need(argc, argv, &i));
    else if (!strcmp(a, "--stdin")) o->stdin_open = 1;
    else die("unknown option %s", a);
  }
  if (i + 1 >= argc) die("missing -- CRUN ARGS");
  if (!o->socket) die("tty-exec needs --socket");
  o->crun_argv = argv + i + 1;
  return tty_exec_main(o);
}

int main(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "run")) {
    struct run_opts o = {.replay_max = 1 << 20};
    parse_run_opts(argc, argv, 2, &o);
    return run_main(&o);
  }
  if (argc >= 2 && argc <= 5 && !strcmp(argv[1], "launcher")) return launcher_main(argc, argv);
  if (argc >= 2 && !strcmp(argv[1], "tty-exec")) {
    struct tty_opts o = {0};
    return parse_tty(argc, argv, &o);
  }
  die("usage: tandem-monitor run|tty-exec [OPTIONS] -- CRUN ARGS... | tandem-monitor launcher");
}
