/* Diagnosis only (bench/turn-probe.mjs PROBE_COTURN_SOCKBUF=BYTES): preloaded
 * into turnserver, raises its SO_RCVBUF / SO_SNDBUF requests to at least
 * SOCKBUF_MIN bytes. coturn sets 64 KiB on relay sockets and has no option
 * for it; this shows whether drops at those buffers limit a TURN transfer. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
  static int (*real)(int, int, int, const void *, socklen_t);
  if (!real) real = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
  if (level == SOL_SOCKET && (name == SO_RCVBUF || name == SO_SNDBUF) && len == sizeof(int)) {
    const char *m = getenv("SOCKBUF_MIN");
    int want = m ? atoi(m) : 0;
    if (*(const int *)val < want) return real(fd, level, name, &want, len);
  }
  return real(fd, level, name, val, len);
}
