// Vector table and reset for mps2-an385 (Cortex-M3, 32 external IRQs).
#include <stdint.h>
#include <string.h>

#include "board.h"

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end, __stack_top;
extern void (*__preinit_array_start[])(void);
extern void (*__preinit_array_end[])(void);
extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
int main(void);

void reset_handler(void);

static void default_handler(void) {
  board_fault("unexpected interrupt");
}

static void hard_fault_handler(void) { board_fault("hard fault"); }

void SysTick_Handler(void);
void TIMER0_Handler(void);
void ETH_Handler(void);

__attribute__((section(".isr_vector"), used)) void (*const vector_table[16 + 32])(void) = {
    (void (*)(void))(&__stack_top),
    reset_handler,
    default_handler,     // NMI
    hard_fault_handler,  // HardFault
    hard_fault_handler,  // MemManage
    hard_fault_handler,  // BusFault
    hard_fault_handler,  // UsageFault
    0, 0, 0, 0,
    default_handler,  // SVCall
    default_handler,  // DebugMon
    0,
    default_handler,  // PendSV
    SysTick_Handler,
    // External interrupts 0..31; only timer 0 and the Ethernet are enabled.
    default_handler, default_handler, default_handler, default_handler,  // 0-3 UART0/1
    default_handler, default_handler, default_handler, default_handler,  // 4-7
    TIMER0_Handler, default_handler, default_handler, default_handler,   // 8 timer 0
    default_handler, ETH_Handler, default_handler, default_handler,      // 13 LAN9118
    default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler,
    default_handler, default_handler, default_handler, default_handler,
};

void reset_handler(void) {
  memcpy(&__data_start, &__data_load,
         (size_t)((char*)&__data_end - (char*)&__data_start));
  memset(&__bss_start, 0, (size_t)((char*)&__bss_end - (char*)&__bss_start));
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  int rc = main();
  board_exit(rc);
}
