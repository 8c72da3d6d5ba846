/*
 * tandem-init: PID 1 of every Tandem guest, and its agent.
 *
 * Boot (boot.c): mount /proc /sys /dev, load the modules the config needs, mount the root
 * (an ext4 virtio disk, grown online to the disk's size, or a 9p share), switch to it, then
 * either run the workload (mode=workload) or exec the image's own /sbin/init with a forked
 * agent beside it (mode=system).
 * Agent (agent.c): one poll loop over the virtio-serial agent port, the power button, a
 * signalfd and the exec sessions' fds. Frames: type u8, session u32 BE, length u32 BE, payload.
 * The workload's stdout/stderr go straight to the "tandem.log" port; its exit status is written
 * to the "tandem.status" port (a host file) and sent to the host before the guest powers off.
 */
#ifndef TANDEM_H
#define TANDEM_H

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
/* Guest -> host frame types. */
#define F_READY 'R'
#define F_STDOUT 'O'
#define F_STDERR 'e'
#define F_EXIT 'X'
#define F_FAIL 'F'

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
  struct proc_spec proc;
};

/* util.c */
void logmsg(const char *fmt, ...);
char *read_file(const char *path, size_t *len);
int write_file(const char *path, const char *text);
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

/* agent.c */
int agent_main(struct config *c, pid_t workload, int workload_tty, int workload_in);

#endif
