/*
 * tandem-init: PID 1 of every Tandem guest, and its agent.
 *
 * Boot (boot.c): mount /proc /sys /dev, load the modules the config needs, mount the root
 * (an ext4 virtio disk, grown online to the disk's size, or a 9p share), switch to it, then
 * either run the workload (mode=workload) or exec the image's own /sbin/init with a forked
 * agent beside it (mode=system).
 * Network (net.c): lo up; with `net=`, eth0's address, the default route, /etc/resolv.conf and
 * /etc/hosts (bound from a read-only share the host keeps current), before the workload runs.
 * Sandbox (sandbox.c, sandbox=1): the workload runs under a small init of its own in new pid,
 * mount, uts, ipc and cgroup namespaces, with a memory/pids-limited cgroup, a minimal /dev and
 * the container's capabilities; execs join those namespaces. The agent stays outside.
 * Agent (agent.c): one poll loop over the virtio-serial agent port, the power button, a
 * signalfd and the exec sessions' fds. Frames: type u8, session u32 BE, length u32 BE, payload.
 * The workload's stdout/stderr go straight to the "tandem.log" port; its exit status is written
 * to the "tandem.status" port (a host file) and sent to the host before the guest powers off.
 */
#ifndef TANDEM_H
#define TANDEM_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MAX_ARGS 256
#define MAX_ENV 512
#define MAX_LINE 65536

/* Host -> guest frame types. */
#define F_HELLO 'H'
#define F_EXEC 'E'
#define F_STDIN 'I'
#define F_RESIZE 'Z'
#define F_SIGNAL 'S'
#define F_STATS 'Q' /* answered with F_STATS_REPLY: the workload cgroup's figures */
/* Guest -> host frame types. */
#define F_READY 'R'
#define F_STDOUT 'O'
#define F_STDERR 'e'
#define F_EXIT 'X'
#define F_FAIL 'F'
#define F_STATS_REPLY 'T'

#define FRAME_HDR 9
#define FRAME_MAX 65536

/* A process to run: the workload or an exec session. Strings point into `buf`. */
struct proc_spec {
  char *argv[MAX_ARGS + 1];
  char *envp[MAX_ENV + 1];
  int argc, envc;
  const char *cwd;
  const char *user;
  int tty, use_stdin, cols, rows;
};

/* The boot configuration (/tandem/config in the initramfs). */
struct config {
  const char *mode;     /* workload | system | shell */
  const char *root;     /* /dev/vda, 9p:TAG, or "" to stay in the initramfs */
  const char *rootfstype;
  const char *hostname;
  const char *modules;  /* extra module groups, comma separated */
  int grow;
  long pids;
  int console_shell;
  int debug;
  char *mounts[16]; /* extra 9p shares: TAG:TARGET[:ro] */
  int nmounts;
  /* Sandbox: the workload runs in its own pid/mount/uts/ipc/cgroup namespaces (sandbox.c). */
  int sandbox;
  long long memory;   /* memory.max of the workload's cgroup (bytes; 0: none) */
  int has_caps;       /* caps: capabilities the workload and execs keep (bit mask) */
  uint64_t caps;
  int nnp;            /* no_new_privs for the workload and execs */
  int ro_root;        /* the workload sees its root read-only (tmpfs on /tmp, /run, /var/tmp) */
  const char *hosts;  /* content of the workload's /etc/hosts ("" : leave the image's) */
  /* Network (net.c): eth0's address, the default route, name servers, a hosts file to bind. */
  const char *net;        /* ADDRESS/PREFIX ("": no NIC configured; lo is always up) */
  const char *gateway;
  const char *dns;        /* name servers, comma separated */
  const char *hosts_file; /* a guest path bound over /etc/hosts (a read-only share the host keeps current) */
  struct proc_spec proc;
};

/* util.c */
void logmsg(const char *fmt, ...);
char *read_file(const char *path, size_t *len);
int write_file(const char *path, const char *text);
void ensure_dir(const char *dir);
char *unescape(char *s);
int parse_spec_line(struct proc_spec *p, char *key, char *val);
int parse_config(char *text, struct config *c);
int parse_spec(char *text, struct proc_spec *p);
int resolve_user(const char *user, uid_t *uid, gid_t *gid, const char **home);
int set_nonblock(int fd);
int find_port(const char *name, char *path, size_t n);
int wait_port(const char *name, char *path, size_t n, int ms);
double uptime_s(void);

/* boot.c */
int setup_child(const struct proc_spec *p, long pids, const char *cgroup);
int load_module_group(const char *group);
extern const struct config *boot_config;
extern int boot_logfd;

/* net.c */
void net_setup(const struct config *c);
void bind_text(const char *target, const char *text);
void bind_file(const char *source, const char *target);

/* sandbox.c */
#define CGROUP "/sys/fs/cgroup/tandem"
extern int sandboxed;
pid_t sandbox_spawn(const struct config *c, int in, int out, int tty_wanted, int *master);
pid_t sandbox_fork(pid_t init);
void sandbox_enter(pid_t init);
int sandbox_open_pty(pid_t init, int *master, int cols, int rows);
int sandbox_attach_pty(int master);
void security_before_user(const struct config *c);
void security_after_user(const struct config *c, uid_t uid);
int cgroup_stats(char *out, size_t n);
int cgroup_oom_kills(void);

/* agent.c */
int agent_main(struct config *c, pid_t workload, int workload_tty, int workload_in);
void agent_block_signals(sigset_t *set);

#endif
