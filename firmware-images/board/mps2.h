// mps2-an385 as QEMU 7.2 emulates it: the registers our drivers touch.
#pragma once

#include <stdint.h>

#define REG32(addr) (*(volatile uint32_t*)(addr))

#define MPS2_SYSCLK_HZ 25000000u

// Cortex-M3 system control space.
#define SYST_CSR REG32(0xE000E010)
#define SYST_RVR REG32(0xE000E014)
#define SYST_CVR REG32(0xE000E018)
#define NVIC_ISER0 REG32(0xE000E100)
#define NVIC_ICPR0 REG32(0xE000E280)
#define SCB_ICSR REG32(0xE000ED04)
#define SCB_VTOR REG32(0xE000ED08)
#define SCB_AIRCR REG32(0xE000ED0C)

// CMSDK APB UART0 (the first -serial).
#define UART0_BASE 0x40004000u
// CMSDK APB timer 0: the wake-up timer.
#define TIMER0_BASE 0x40000000u
#define TIMER0_IRQ 8
// SMSC LAN9118 (LAN9220 on the real board).
#define LAN9118_BASE 0x40200000u
#define LAN9118_IRQ 13

#ifdef __cplusplus
extern "C" {
#endif

static inline void irq_disable(void) { __asm volatile("cpsid i" ::: "memory"); }
static inline void irq_enable(void) { __asm volatile("cpsie i" ::: "memory"); }
static inline void wfi(void) { __asm volatile("wfi" ::: "memory"); }

#ifdef __cplusplus
}
#endif
