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

static void default_handler(void) { board_fault("unexpected interrupt"); }

static void hard_fault_handler(void) { board_fault("hard fault"); }

void SysTick_Handler(void);
void TIMER0_Handler(void);
void ETH_Handler(void);

__attribute__((section(".isr_vector"), used)) void (*const vector_table[16 + 32])(void) = {
    (void (*)(void))(&__stack_top),  // initial stack pointer
    reset_handler,                   // reset
    default_handler,                 // NMI
    hard_fault_handler,              // HardFault
    hard_fault_handler,              // MemManage
    hard_fault_handler,              // BusFault
    hard_fault_handler,              // UsageFault
    0,                               // reserved
    0,                               // reserved
    0,                               // reserved
    0,                               // reserved
    default_handler,                 // SVCall
    default_handler,                 // DebugMon
    0,                               // reserved
    default_handler,                 // PendSV
    SysTick_Handler,                 // SysTick: the clock
    // External interrupts 0..31: only timer 0 (8) and the LAN9118 (13) are enabled.
    default_handler,  // IRQ 0
    default_handler,  // IRQ 1
    default_handler,  // IRQ 2
    default_handler,  // IRQ 3
    default_handler,  // IRQ 4
    default_handler,  // IRQ 5
    default_handler,  // IRQ 6
    default_handler,  // IRQ 7
    TIMER0_Handler,   // IRQ 8
    default_handler,  // IRQ 9
    default_handler,  // IRQ 10
    default_handler,  // IRQ 11
    default_handler,  // IRQ 12
    ETH_Handler,      // IRQ 13
    default_handler,  // IRQ 14
    default_handler,  // IRQ 15
    default_handler,  // IRQ 16
    default_handler,  // IRQ 17
    default_handler,  // IRQ 18
    default_handler,  // IRQ 19
    default_handler,  // IRQ 20
    default_handler,  // IRQ 21
    default_handler,  // IRQ 22
    default_handler,  // IRQ 23
    default_handler,  // IRQ 24
    default_handler,  // IRQ 25
    default_handler,  // IRQ 26
    default_handler,  // IRQ 27
    default_handler,  // IRQ 28
    default_handler,  // IRQ 29
    default_handler,  // IRQ 30
    default_handler,  // IRQ 31
};

void reset_handler(void) {
  memcpy(&__data_start, &__data_load, (size_t)((char*)&__data_end - (char*)&__data_start));
  memset(&__bss_start, 0, (size_t)((char*)&__bss_end - (char*)&__bss_start));
  for (void (**f)(void) = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (void (**f)(void) = __init_array_start; f < __init_array_end; ++f) (*f)();
  int rc = main();
  board_exit(rc);
}
