// Board support for mps2-an385 under QEMU: UART log, millisecond clock,
// sleeping until a deadline or a frame, semihosting, exit codes.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void board_init(void);

// UART0, blocking. The host reads it as the firmware's log.
void uart_write(const char* s, size_t n);

// Milliseconds since board_init(), from SysTick (25 MHz core clock, free
// running; one interrupt per 671 ms wrap).
uint64_t board_now_ms(void);

// Sleeps (WFI) until `deadline_ms`, or until an interrupt says there is
// work (a frame arrived). Returns at once if `*work` is non-zero. Timer 0 is
// armed one-shot for the deadline, so an idle firmware costs no host CPU.
void board_sleep(uint64_t deadline_ms, volatile int* work);

// Deepest stack use so far (the stack is painted at board_init), and its size.
size_t board_stack_used(void);
size_t board_stack_size(void);

// Set from the Ethernet interrupt; cleared by the main loop.
extern volatile int board_eth_pending;

// Ends the run: semihosting SYS_EXIT_EXTENDED, so QEMU exits with `code`.
__attribute__((noreturn)) void board_exit(int code);
__attribute__((noreturn)) void board_fault(const char* what);

// ---- semihosting (ARM "Semihosting for AArch32 and AArch64", v2) --------
enum {
  SH_OPEN_RB = 1,      // "rb"
  SH_OPEN_RPLUSB = 3,  // "r+b"
  SH_OPEN_WPLUSB = 7,  // "w+b"
};
int sh_open(const char* path, int mode);  // handle, or -1
int sh_close(int handle);
// Bytes NOT written / NOT read (0: all), as the semihosting calls return.
int sh_write(int handle, const void* data, size_t len);
int sh_read(int handle, void* data, size_t len);
int sh_seek(int handle, uint32_t pos);  // 0 on success
int sh_flen(int handle);                // length, or -1
// The command line: the kernel's name, then the -append string.
int sh_get_cmdline(char* buf, size_t len);
uint32_t sh_time(void);  // host seconds since the epoch

#ifdef __cplusplus
}
#endif
