/* What libnss-ato does on balenaOS, as an LD_PRELOAD shim for the simulated device's sshd: a login
 * name that is not in /etc/passwd resolves to root's entry (uid 0, root's home and shell) under
 * the name asked for. Only the device's sshd loads it; the machine's own lookups are untouched.
 * With FV_DEVICE_HOME set (the fleet lab), every entry's home is that directory: a device's root
 * does not share the test machine's /root, whose .bashrc bash sources for every ssh command
 * (bash does that when sshd runs it) and which costs more CPU than the command itself. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pwd.h>
#include <string.h>
#include <errno.h>
#include <stdlib.h>

static char name_buf[256];

static void device_home(struct passwd *p) {
  char *home = getenv("FV_DEVICE_HOME");
  if (p && home && *home) p->pw_dir = home;
}

struct passwd *getpwnam(const char *name) {
  static struct passwd *(*real)(const char *);
  if (!real) real = (struct passwd *(*)(const char *))dlsym(RTLD_NEXT, "getpwnam");
  struct passwd *p = real(name);
  if (p || !name || strlen(name) >= sizeof name_buf) { device_home(p); return p; }
  p = real("root");
  if (p) { strcpy(name_buf, name); p->pw_name = name_buf; }
  device_home(p);
  return p;
}

int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t len, struct passwd **result) {
  static int (*real)(const char *, struct passwd *, char *, size_t, struct passwd **);
  if (!real) real = (int (*)(const char *, struct passwd *, char *, size_t, struct passwd **))dlsym(RTLD_NEXT, "getpwnam_r");
  int rc = real(name, pwd, buf, len, result);
  if (rc == 0 && *result) device_home(*result);
  if (rc != 0 || *result || !name) return rc;
  size_t n = strlen(name) + 1;
  if (n > len) return ERANGE;
  rc = real("root", pwd, buf + n, len - n, result);
  if (rc == 0 && *result) { memcpy(buf, name, n); pwd->pw_name = buf; device_home(*result); }
  return rc;
}
