// lwIP netif over the LAN9118 driver.
#pragma once

#include "lwip/err.h"
#include "lwip/netif.h"

#ifdef __cplusplus
extern "C" {
#endif

err_t lan9118_netif_init(struct netif* netif);
// Hands every frame waiting in the chip to lwIP. Returns how many.
int lan9118_netif_poll(struct netif* netif);

// Counters for the log.
extern unsigned long lan9118_frames_in, lan9118_frames_out;

#ifdef __cplusplus
}
#endif
