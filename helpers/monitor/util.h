/* Small helpers shared by the monitor's modes (see main.c). */
#ifndef TANDEM_MONITOR_UTIL_H
#define TANDEM_MONITOR_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Prints "tandem-monitor: <message>" to stderr and exits with status 125. */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Writes all of buf (retrying on EINTR and short writes); returns 0 or -1. */
int write_all(int fd, const void *buf, size_t n);

/* Writes `text` to `path` atomically (a temporary file renamed over it); returns 0 or -1. */
int write_file_atomic(const char *path, const char *text);

/* Reads up to cap-1 bytes of `path` into buf, NUL-terminated; returns bytes read or -1. */
ssize_t read_small_file(const char *path, char *buf, size_t cap);

/* The current UTC time as ISO-8601 with milliseconds (e.g. 2024-01-02T03:04:05.678Z). */
void iso_now(char *buf, size_t cap);

/* Field 22 of /proc/<pid>/stat (start time in clock ticks), or 0 when unreadable. */
unsigned long long proc_start_time(pid_t pid);

/* Receives one file descriptor sent with SCM_RIGHTS over `sock`; returns it or -1. */
int recv_fd(int sock);

/* Creates a listening unix stream socket at `path` (replacing a stale one); returns it or -1. */
int listen_unix(const char *path);

/* Closes every descriptor >= `from` except `keep` (-1 for none). */
void close_from(int from, int keep);

/* Exit status as a shell reports it: the code, or 128+N when killed by signal N. */
int status_code(int wstatus);

#endif
