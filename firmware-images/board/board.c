// UART0, SysTick clock, timer-0 wake-ups, faults.
#include "board.h"

#include <string.h>

#include "mps2.h"

// ---- UART0 (CMSDK APB UART) -------------------------------------------
#define UART_DATA REG32(UART0_BASE + 0x00)
#define UART_STATE REG32(UART0_BASE + 0x04)
#define UART_CTRL REG32(UART0_BASE + 0x08)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10)
#define UART_STATE_TXFULL 1u

void uart_write(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    while (UART_STATE & UART_STATE_TXFULL) {
    }
    UART_DATA = (uint8_t)s[i];
  }
}

// ---- clock: SysTick free running at the core clock ------------------------
// 24 bits at 25 MHz wrap every 671 ms; the wrap interrupt counts them.
#define SYST_RELOAD 0x00FFFFFFu
static volatile uint32_t systick_wraps;

void SysTick_Handler(void) { systick_wraps++; }

uint64_t board_now_ms(void) {
  uint32_t wraps, value;
  do {
    wraps = systick_wraps;
    value = SYST_CVR;
    // A wrap between the two reads (the interrupt ran): read again.
  } while (wraps != systick_wraps);
  // With interrupts masked a wrap may be pending and not yet counted.
  if ((SCB_ICSR & (1u << 26)) && value > SYST_RELOAD / 2) wraps++;
  uint64_t cycles = ((uint64_t)wraps << 24) + (SYST_RELOAD - value);
  return cycles / (MPS2_SYSCLK_HZ / 1000u);
}

// ---- timer 0: one-shot wake-up -------------------------------------------
#define TIMER0_CTRL REG32(TIMER0_BASE + 0x00)
#define TIMER0_VALUE REG32(TIMER0_BASE + 0x04)
#define TIMER0_RELOAD REG32(TIMER0_BASE + 0x08)
#define TIMER0_INTCLEAR REG32(TIMER0_BASE + 0x0C)
#define TIMER_CTRL_EN 1u
#define TIMER_CTRL_IRQEN 8u

static volatile int timer_fired;

void TIMER0_Handler(void) {
  TIMER0_CTRL = 0;
  TIMER0_INTCLEAR = 1;
  timer_fired = 1;
}

volatile int board_eth_pending;

void board_sleep(uint64_t deadline_ms, volatile int* work) {
  uint64_t now = board_now_ms();
  if (deadline_ms <= now || *work) return;
  uint64_t wait_ms = deadline_ms - now;
  // 32-bit down-counter at 25 MHz: at most 171 s per arm; the caller loops.
  if (wait_ms > 100000) wait_ms = 100000;
  uint32_t ticks = (uint32_t)(wait_ms * (MPS2_SYSCLK_HZ / 1000u));
  timer_fired = 0;
  TIMER0_CTRL = 0;
  TIMER0_INTCLEAR = 1;
  TIMER0_RELOAD = ticks;
  TIMER0_VALUE = ticks;
  TIMER0_CTRL = TIMER_CTRL_EN | TIMER_CTRL_IRQEN;
  // Interrupts masked while checking, so a frame or the timer arriving
  // between the check and WFI still wakes it (WFI wakes on a pending IRQ).
  irq_disable();
  while (!timer_fired && !*work) {
    wfi();
    irq_enable();  // let the handler run
    irq_disable();
  }
  irq_enable();
  TIMER0_CTRL = 0;
}

// Stack high-water mark: the unused stack is painted at boot.
#define STACK_PAINT 0xC0FFEE11u
extern uint32_t __stack_limit, __stack_top;

static void paint_stack(void) {
  uint32_t* sp;
  __asm volatile("mov %0, sp" : "=r"(sp));
  for (uint32_t* p = &__stack_limit; p < sp - 16; ++p) *p = STACK_PAINT;
}

size_t board_stack_used(void) {
  uint32_t* p = &__stack_limit;
  while (p < &__stack_top && *p == STACK_PAINT) ++p;
  return (size_t)((char*)&__stack_top - (char*)p);
}

size_t board_stack_size(void) { return (size_t)((char*)&__stack_top - (char*)&__stack_limit); }

void board_init(void) {
  paint_stack();
  UART_BAUDDIV = 16;
  UART_CTRL = 1;  // TX only
  SYST_RVR = SYST_RELOAD;
  SYST_CVR = 0;
  SYST_CSR = 7;  // core clock, interrupt, enable
  NVIC_ISER0 = (1u << TIMER0_IRQ);
}

static void put(const char* s) { uart_write(s, strlen(s)); }

void board_fault(const char* what) {
  put("EV 0 fault ");
  put(what);
  put("\n");
  board_exit(70);
}
