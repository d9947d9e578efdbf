#include <string.h>

#include "board.h"

enum {
  SYS_OPEN = 0x01,
  SYS_CLOSE = 0x02,
  SYS_WRITE = 0x05,
  SYS_READ = 0x06,
  SYS_SEEK = 0x0A,
  SYS_FLEN = 0x0C,
  SYS_TIME = 0x11,
  SYS_GET_CMDLINE = 0x15,
  SYS_EXIT_EXTENDED = 0x20,
};
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost(int op, void* arg) {
  register int r0 __asm__("r0") = op;
  register void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

int sh_open(const char* path, int mode) {
  uint32_t args[3] = {(uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path)};
  return semihost(SYS_OPEN, args);
}

int sh_close(int handle) {
  uint32_t args[1] = {(uint32_t)handle};
  return semihost(SYS_CLOSE, args);
}

int sh_write(int handle, const void* data, size_t len) {
  uint32_t args[3] = {(uint32_t)handle, (uint32_t)data, (uint32_t)len};
  return semihost(SYS_WRITE, args);
}

int sh_read(int handle, void* data, size_t len) {
  uint32_t args[3] = {(uint32_t)handle, (uint32_t)data, (uint32_t)len};
  return semihost(SYS_READ, args);
}

int sh_seek(int handle, uint32_t pos) {
  uint32_t args[2] = {(uint32_t)handle, pos};
  return semihost(SYS_SEEK, args);
}

int sh_flen(int handle) {
  uint32_t args[1] = {(uint32_t)handle};
  return semihost(SYS_FLEN, args);
}

int sh_get_cmdline(char* buf, size_t len) {
  uint32_t args[2] = {(uint32_t)buf, (uint32_t)len};
  return semihost(SYS_GET_CMDLINE, args);
}

uint32_t sh_time(void) { return (uint32_t)semihost(SYS_TIME, 0); }

void board_exit(int code) {
  uint32_t args[2] = {ADP_STOPPED_APPLICATION_EXIT, (uint32_t)code};
  for (;;) semihost(SYS_EXIT_EXTENDED, args);
}
