// lwIP hooks of the image (LWIP_HOOK_FILENAME).
#pragma once

#include "lwip/ip4_addr.h"
#include "lwip/netif.h"

// Loopback destinations leave through the default interface, to the
// gateway, instead of being refused (see lwipopts.h).
static inline struct netif* fw_route_hook(const ip4_addr_t* dest) {
  if (ip4_addr_isloopback(dest) && netif_default != NULL && netif_is_up(netif_default) &&
      netif_is_link_up(netif_default))
    return netif_default;
  return NULL;
}
