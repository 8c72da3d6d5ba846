/*
 * The guest's network (config `net=ADDRESS/PREFIX`, `gateway=`, `dns=`, `hosts_file=`): the
 * Debian kernel has no CONFIG_IP_PNP, so PID 1 configures it before the workload runs, with
 * plain ioctls (busybox is gone once the root is switched): lo up (always), eth0's address and
 * netmask, eth0 up, the default route. /etc/resolv.conf and /etc/hosts are bind mounts, so the
 * image's files (a VM's disk, a sandbox's upper dir) keep their content: resolv.conf from a file
 * written on /dev, hosts from the read-only 9p share the host keeps current (read uncached, so
 * names added after boot resolve at once).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tandem.h"

#define NIC "eth0"

/* Makes `target` (a file) exist, created empty when its directory does; 0 when it does. */
static int touch(const char *target) {
  int t = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (t < 0) return -1;
  close(t);
  return 0;
}

/* Binds the file `source` over `target` (created when missing). */
void bind_file(const char *source, const char *target) {
  if (touch(target) || mount(source, target, NULL, MS_BIND, NULL)) logmsg("binding %s: %s", target, strerror(errno));
}

/* Binds a file with `text` over `target` (created when missing); the source is unlinked. */
void bind_text(const char *target, const char *text) {
  const char *tmp = "/dev/.tandem-bind";
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) logmsg("writing %s: %s", target, strerror(errno));
  close(fd);
  bind_file(tmp, target);
  unlink(tmp);
}

static void sin_set(struct sockaddr *sa, in_addr_t addr) {
  struct sockaddr_in *in = (struct sockaddr_in *)sa;
  memset(in, 0, sizeof *in);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = addr;
}

static int link_up(int s, const char *name) {
  struct ifreq r;
  memset(&r, 0, sizeof r);
  snprintf(r.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(s, SIOCGIFFLAGS, &r)) return -1;
  r.ifr_flags |= IFF_UP;
  return ioctl(s, SIOCSIFFLAGS, &r);
}

/* eth0's address, netmask, link and the default route; -1 (errno set) when a step fails. */
static int configure_nic(int s, const char *cidr, const char *gateway) {
  char addr[64];
  snprintf(addr, sizeof addr, "%s", cidr);
  char *slash = strchr(addr, '/');
  int prefix = slash ? atoi(slash + 1) : 32;
  if (slash) *slash = 0;
  struct in_addr a, gw;
  if (!inet_aton(addr, &a) || prefix < 0 || prefix > 32 || (*gateway && !inet_aton(gateway, &gw))) {
    errno = EINVAL;
    return -1;
  }
  for (int i = 0; i < 400 && access("/sys/class/net/" NIC, F_OK); i++) usleep(5000);
  struct ifreq r;
  memset(&r, 0, sizeof r);
  snprintf(r.ifr_name, IFNAMSIZ, NIC);
  sin_set(&r.ifr_addr, a.s_addr);
  if (ioctl(s, SIOCSIFADDR, &r)) return -1;
  sin_set(&r.ifr_netmask, prefix ? htonl(~0u << (32 - prefix)) : 0);
  if (ioctl(s, SIOCSIFNETMASK, &r) || link_up(s, NIC)) return -1;
  if (!*gateway) return 0;
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  sin_set(&rt.rt_dst, INADDR_ANY);
  sin_set(&rt.rt_genmask, INADDR_ANY);
  sin_set(&rt.rt_gateway, gw.s_addr);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  rt.rt_dev = NIC;
  return ioctl(s, SIOCADDRT, &rt);
}

/* /etc/resolv.conf from `dns` (comma separated), bound over the image's. */
static void write_resolv(const char *dns) {
  char text[1024] = "", list[512];
  snprintf(list, sizeof list, "%s", dns);
  char *save = NULL;
  for (char *ns = strtok_r(list, ",", &save); ns; ns = strtok_r(NULL, ",", &save)) {
    size_t n = strlen(text);
    snprintf(text + n, sizeof text - n, "nameserver %s\n", ns);
  }
  if (*text && access("/etc", F_OK) == 0) bind_text("/etc/resolv.conf", text);
}

/* Runs in PID 1 once the root and the shares are mounted, before the workload starts. */
void net_setup(const struct config *c) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  if (link_up(s, "lo")) logmsg("lo up: %s", strerror(errno));
  if (*c->net && configure_nic(s, c->net, c->gateway)) logmsg("configuring " NIC " (%s via %s): %s", c->net, c->gateway, strerror(errno));
  close(s);
  if (*c->net && c->sandbox) write_file("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0"); /* as a container's netns */
  if (*c->dns) write_resolv(c->dns);
  if (*c->hosts_file && access("/etc", F_OK) == 0) bind_file(c->hosts_file, "/etc/hosts");
}
