// lockout-init: the init of the *local* enclave image (docs/RUN-ENCLAVE.md), written from the
// documented contract of the AWS init (shared design ENCLAVE-IMAGE.md, "What the AWS init does"):
//
//   1. devtmpfs on /dev, stdio to /dev/console;
//   2. /nsm.ko: loaded if present, then deleted. Locally it is either one kernel module (ELF) or
//      a newc cpio archive of modules (the NIC drivers QEMU's virtio-net needs, Debian's kernel
//      builds them as modules), loaded in archive order;
//   3. heartbeat: there is no vsock under QEMU here, so none is sent (run-enclave watches QEMU);
//   4. /env and /cmd, one item per line, both required, then deleted;
//      (local only) the guest network: lo up, and if eth0 exists 10.0.2.15/24 with the default
//      route via 10.0.2.2 — QEMU user-mode networking's fixed addresses (10.0.2.2 is the host);
//   5. /rootfs becomes the root (bind mount, move, chroot);
//   6. devtmpfs /dev, proc, sysfs, tmpfs /run and /tmp, /dev/shm, devpts, cgroup2;
//   7. fork, setsid, execvpe(argv[0], argv, env) with PATH=/sbin:/usr/sbin:/bin:/usr/bin; when
//      that process exits the guest reboots, which ends QEMU (run with -no-reboot).
//
// Plain C against glibc, linked statically: it runs before any root filesystem exists. Every
// failure is printed to the console and ends the guest; this is PID 1 of a throwaway VM.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FILE_BYTES (64u << 20)  // /nsm.ko bundle, /env, /cmd
#define MAX_ITEMS 1024

static void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("lockout-init: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("lockout-init: fatal: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  sync();
  reboot(RB_AUTOBOOT);
  _exit(1);
}

// Reads a whole file; NULL if it does not exist. Dies on other errors.
static char* read_file(const char* path, size_t* size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return NULL;
    die("open %s: %s", path, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) die("stat %s: %s", path, strerror(errno));
  if (st.st_size < 0 || (unsigned long long)st.st_size > MAX_FILE_BYTES)
    die("%s is too large", path);
  char* buf = malloc((size_t)st.st_size + 1);
  if (buf == NULL) die("out of memory reading %s", path);
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die("read %s: %s", path, n < 0 ? strerror(errno) : "short file");
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  *size = got;
  return buf;
}

static void load_module(const char* name, const char* data, size_t size) {
  if (syscall(SYS_init_module, data, (unsigned long)size, "") != 0 && errno != EEXIST) {
    die("loading module %s: %s", name, strerror(errno));
  }
  say("loaded %s", name);
}

static unsigned long hex8(const char* p) {
  unsigned long v = 0;
  for (int i = 0; i < 8; i++) {
    char c = p[i];
    int d = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (d < 0) die("/nsm.ko: bad cpio header");
    v = (v << 4) | (unsigned long)d;
  }
  return v;
}

// A newc cpio archive of modules: every regular file is loaded, in order.
static void load_module_bundle(const char* buf, size_t size) {
  size_t off = 0;
  for (int entries = 0; entries < MAX_ITEMS; entries++) {
    if (size - off < 110 || memcmp(buf + off, "070701", 6) != 0) die("/nsm.ko: bad cpio entry");
    const char* h = buf + off;
    unsigned long mode = hex8(h + 14), filesize = hex8(h + 54), namesize = hex8(h + 94);
    size_t name_at = off + 110;
    if (namesize == 0 || namesize > size - name_at) die("/nsm.ko: bad cpio name");
    const char* name = buf + name_at;
    if (name[namesize - 1] != '\0') die("/nsm.ko: cpio name not terminated");
    size_t data_at = (name_at + namesize + 3) & ~(size_t)3;
    if (data_at > size || filesize > size - data_at) die("/nsm.ko: truncated cpio data");
    if (strcmp(name, "TRAILER!!!") == 0) return;
    if (S_ISREG(mode)) load_module(name, buf + data_at, filesize);
    off = (data_at + filesize + 3) & ~(size_t)3;
    if (off > size) die("/nsm.ko: truncated cpio archive");
  }
  die("/nsm.ko: too many cpio entries");
}

static void load_nsm_ko(void) {
  size_t size = 0;
  char* buf = read_file("/nsm.ko", &size);
  if (buf == NULL) return;
  if (size >= 4 && memcmp(buf, "\177ELF", 4) == 0) {
    load_module("/nsm.ko", buf, size);
  } else if (size >= 6 && memcmp(buf, "070701", 6) == 0) {
    load_module_bundle(buf, size);
  } else {
    die("/nsm.ko is neither a kernel module nor a cpio archive of modules");
  }
  free(buf);
  if (unlink("/nsm.ko") != 0) die("unlink /nsm.ko: %s", strerror(errno));
}

// Splits `text` into NUL-terminated lines in place (the last may lack '\n'). Empty lines count.
static char** split_lines(char* text, size_t size, size_t* count) {
  char** items = calloc(MAX_ITEMS + 1, sizeof(char*));
  if (items == NULL) die("out of memory");
  size_t n = 0;
  char* p = text;
  char* end = text + size;
  while (p < end) {
    if (n == MAX_ITEMS) die("too many lines");
    char* nl = memchr(p, '\n', (size_t)(end - p));
    if (nl != NULL) *nl = '\0';
    items[n++] = p;
    p = nl != NULL ? nl + 1 : end;
  }
  items[n] = NULL;
  *count = n;
  return items;
}

static char** read_lines(const char* path, size_t* count) {
  size_t size = 0;
  char* text = read_file(path, &size);
  if (text == NULL) die("%s is missing", path);
  if (memchr(text, '\0', size) != NULL) die("%s contains a NUL byte", path);
  char** items = split_lines(text, size, count);
  if (unlink(path) != 0) die("unlink %s: %s", path, strerror(errno));
  return items;
}

static void set_addr(struct sockaddr* sa, const char* ip) {
  struct sockaddr_in* in = (struct sockaddr_in*)sa;
  memset(in, 0, sizeof(*in));
  in->sin_family = AF_INET;
  if (inet_pton(AF_INET, ip, &in->sin_addr) != 1) die("bad address %s", ip);
}

static void if_up(int s, const char* name) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) != 0) die("%s: SIOCGIFFLAGS: %s", name, strerror(errno));
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) die("%s: SIOCSIFFLAGS: %s", name, strerror(errno));
}

static void configure_network(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket: %s", strerror(errno));
  if_up(s, "lo");
  if (if_nametoindex("eth0") == 0) {
    say("no eth0: the guest has no network");
    close(s);
    return;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strncpy(ifr.ifr_name, "eth0", IFNAMSIZ - 1);
  set_addr(&ifr.ifr_addr, "10.0.2.15");
  if (ioctl(s, SIOCSIFADDR, &ifr) != 0) die("eth0: SIOCSIFADDR: %s", strerror(errno));
  set_addr(&ifr.ifr_netmask, "255.255.255.0");
  if (ioctl(s, SIOCSIFNETMASK, &ifr) != 0) die("eth0: SIOCSIFNETMASK: %s", strerror(errno));
  if_up(s, "eth0");
  struct rtentry rt;
  memset(&rt, 0, sizeof(rt));
  set_addr(&rt.rt_dst, "0.0.0.0");
  set_addr(&rt.rt_genmask, "0.0.0.0");
  set_addr(&rt.rt_gateway, "10.0.2.2");
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  rt.rt_dev = "eth0";
  if (ioctl(s, SIOCADDRT, &rt) != 0) die("default route: %s", strerror(errno));
  close(s);
  say("eth0 10.0.2.15/24, default route via 10.0.2.2");
}

static void mount_or_die(const char* src, const char* target, const char* type, unsigned long flags,
                         const char* data) {
  mkdir(target, 0755);
  if (mount(src, target, type, flags, data) != 0) {
    die("mount %s on %s: %s", type ? type : src, target, strerror(errno));
  }
}

static void switch_root(void) {
  mount_or_die("/rootfs", "/rootfs", NULL, MS_BIND | MS_REC, NULL);
  if (chdir("/rootfs") != 0) die("chdir /rootfs: %s", strerror(errno));
  if (mount(".", "/", NULL, MS_MOVE, NULL) != 0) die("move /rootfs to /: %s", strerror(errno));
  if (chroot(".") != 0) die("chroot: %s", strerror(errno));
  if (chdir("/") != 0) die("chdir /: %s", strerror(errno));
}

static void mount_system(void) {
  const unsigned long nosuid_nodev = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  mount_or_die("dev", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, NULL);
  mount_or_die("proc", "/proc", "proc", nosuid_nodev, NULL);
  mount_or_die("sysfs", "/sys", "sysfs", nosuid_nodev, NULL);
  mount_or_die("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755");
  mount_or_die("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount_or_die("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mount_or_die("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666");
  mkdir("/sys/fs/cgroup", 0755);
  if (mount("cgroup2", "/sys/fs/cgroup", "cgroup2", nosuid_nodev, NULL) != 0) {
    say("cgroup2 not mounted: %s", strerror(errno));
  }
}

static void console_stdio(void) {
  int fd = open("/dev/console", O_RDWR | O_NOCTTY);
  if (fd < 0) return;  // nowhere to report; carry on
  dup2(fd, 0);
  dup2(fd, 1);
  dup2(fd, 2);
  if (fd > 2) close(fd);
}

int main(void) {
  mkdir("/dev", 0755);
  if (mount("dev", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, NULL) != 0 && errno != EBUSY) {
    return 1;  // no console yet
  }
  console_stdio();
  setvbuf(stderr, NULL, _IONBF, 0);
  say("starting (local image: no heartbeat, QEMU user-mode network)");
  load_nsm_ko();
  size_t env_count = 0, argc = 0;
  char** env = read_lines("/env", &env_count);
  char** argv = read_lines("/cmd", &argc);
  size_t kept = 0;  // an empty line is no variable
  for (size_t i = 0; i < env_count; i++) {
    if (env[i][0] != '\0') env[kept++] = env[i];
  }
  env[kept] = NULL;
  if (argc == 0) {
    static char* sh[] = {"sh", NULL};
    argv = sh;
  }
  configure_network();
  switch_root();
  mount_system();
  console_stdio();

  pid_t child = fork();
  if (child < 0) die("fork: %s", strerror(errno));
  if (child == 0) {
    if (setsid() < 0) die("setsid: %s", strerror(errno));
    // execvpe searches the PATH given here, not the one in `env`.
    setenv("PATH", "/sbin:/usr/sbin:/bin:/usr/bin", 1);
    execvpe(argv[0], argv, env);
    die("exec %s: %s", argv[0], strerror(errno));
  }
  say("started %s (pid %d)", argv[0], (int)child);
  for (;;) {
    int status = 0;
    pid_t pid = wait(&status);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) die("wait: %s", strerror(errno));
    if (pid != child) continue;  // an orphan reparented to init
    if (WIFEXITED(status)) {
      say("%s exited with status %d", argv[0], WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      say("%s killed by signal %d", argv[0], WTERMSIG(status));
    }
    break;
  }
  sync();
  reboot(RB_AUTOBOOT);
  return 0;
}
