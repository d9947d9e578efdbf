// lwIP 2.1.3 for the image: NO_SYS, raw API, IPv4 + UDP + ARP + ICMP over
// one Ethernet interface. Every buffer is a static pool or lwIP's own fixed
// heap (MEM_SIZE): no malloc. libcoap's objects live in custom pools
// (lwippools.h), so CoAP memory is bounded as well.
#pragma once

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0  // interrupts only set flags; all lwIP work is in the main loop
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_UDP 1
#define LWIP_TCP 0
#define LWIP_RAW 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0
#define LWIP_SINGLE_NETIF 0  // so ip4_route() consults LWIP_HOOK_IP4_ROUTE
// Every destination goes out through the Ethernet to the gateway, loopback
// (127/8) included: servers on the emulator's side are addressed as the
// host sees them (coap://127.0.0.1:5683), and the host's bridge carries the
// datagram there. lwIP alone refuses to route 127/8 (fw_hooks.h).
#define LWIP_HOOK_FILENAME "fw_hooks.h"
#define LWIP_HOOK_IP4_ROUTE(dest) fw_route_hook(dest)
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAX_PBUFS 8
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define ARP_QUEUEING 1

#define MEM_ALIGNMENT 4
// lwIP's heap: PBUF_RAM for every CoAP PDU libcoap builds (MTU-sized) and
// for outgoing frames. Fixed at link time.
#define MEM_SIZE (16 * 1024)
#define MEMP_NUM_PBUF 16
#define MEMP_NUM_UDP_PCB 6
#define PBUF_POOL_SIZE 24  // received frames
#define PBUF_POOL_BUFSIZE 1536
#define MEMP_NUM_ARP_QUEUE 8
#define MEMP_NUM_REASSDATA 4
#define MEMP_NUM_FRAG_PBUF 8
// lwIP's own timers (ARP, reassembly) plus libcoap's retransmission timer.
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 4)

// libcoap's objects (contexts, sessions, PDUs, queue nodes) in pools.
#define MEMP_USE_CUSTOM_POOLS 1

#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define MEM_STATS 1
#define MEMP_STATS 1
#define LINK_STATS 0
#define ETHARP_STATS 0
#define IP_STATS 0
#define UDP_STATS 0
#define ICMP_STATS 0
#define IPFRAG_STATS 0
#define SYS_STATS 0

#define LWIP_CHECKSUM_ON_COPY 0
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_UDP 1

// Message ids and tokens of libcoap start from this (coap_prng.c).
#ifdef __cplusplus
extern "C" {
#endif
unsigned long fw_rand(void);
#ifdef __cplusplus
}
#endif
#define LWIP_RAND() ((u32_t)fw_rand())

#define LWIP_DEBUG 0
