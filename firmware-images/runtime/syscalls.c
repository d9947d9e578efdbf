// The few newlib system calls the image needs. The heap is the region the
// linker script reserves (HEAP_SIZE); _sbrk never goes beyond it.
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "board.h"

extern char __heap_start, __heap_end;
static char* heap_top = &__heap_start;

void* _sbrk(ptrdiff_t incr) {
  char* prev = heap_top;
  if (incr < 0 || heap_top + incr > &__heap_end) {
    errno = ENOMEM;
    return (void*)-1;
  }
  heap_top += incr;
  return prev;
}

size_t heap_used_bytes(void) { return (size_t)(heap_top - &__heap_start); }
size_t heap_size_bytes(void) { return (size_t)(&__heap_end - &__heap_start); }

int _write(int fd, const char* buf, int len) {
  (void)fd;
  uart_write(buf, (size_t)len);
  return len;
}

int _read(int fd, char* buf, int len) {
  (void)fd;
  (void)buf;
  (void)len;
  return 0;
}

int _close(int fd) {
  (void)fd;
  return -1;
}

int _lseek(int fd, int off, int whence) {
  (void)fd;
  (void)off;
  (void)whence;
  return 0;
}

int _fstat(int fd, struct stat* st) {
  (void)fd;
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd) {
  (void)fd;
  return 1;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig) {
  (void)pid;
  (void)sig;
  errno = EINVAL;
  return -1;
}

void _exit(int code) { board_exit(code); }

void abort(void) { board_fault("abort"); }
