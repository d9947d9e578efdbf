// lwIP custom memory pools: libcoap's objects (MEMP_USE_CUSTOM_POOLS).
// Sized for one client: a bootstrap and a server session, a couple of
// exchanges in flight each, no resources beyond the catch-all.
//
// lwIP's memp.h includes this in every file that includes it, C++ ones
// too; there only the pools' names matter (memp.h's enum), and libcoap's
// internal headers are not C++, so C++ sees the LWIP_MEMPOOL lines without
// them (their sizes are macro arguments memp.h's enum drops).
#define MEMP_NUM_COAPCONTEXT 1
#define MEMP_NUM_COAPENDPOINT 1
#define MEMP_NUM_COAPPACKET 1
#define MEMP_NUM_COAPNODE 8
#define MEMP_NUM_COAPPDU 12
#define MEMP_NUM_COAPSESSION 4
#define MEMP_NUM_COAP_SUBSCRIPTION 1
#define MEMP_NUM_COAPRESOURCE 2
#define MEMP_NUM_COAPRESOURCEATTR 2
#define MEMP_NUM_COAPOPTLIST 1
#define MEMP_NUM_COAPSTRING 8
#define MEMP_LEN_COAPSTRING 64
#define MEMP_NUM_COAPCACHE_KEYS 1
#define MEMP_NUM_COAPCACHE_ENTRIES 1
#define MEMP_NUM_COAPPDUBUF 1
#define MEMP_NUM_COAPLGXMIT 1
#define MEMP_NUM_COAPLGCRCV 1
#define MEMP_NUM_COAPLGSRCV 1

#ifdef __cplusplus
#ifndef COAP_INTERNAL_H_
#define COAP_INTERNAL_H_
#define FW_POOLS_UNDEF_INTERNAL
#endif
#ifndef COAP_NET_H_
#define COAP_NET_H_
#define FW_POOLS_UNDEF_NET
#endif
#ifndef COAP_RESOURCE_H_
#define COAP_RESOURCE_H_
#define FW_POOLS_UNDEF_RESOURCE
#endif
#ifndef COAP_SUBSCRIBE_H_
#define COAP_SUBSCRIBE_H_
#define FW_POOLS_UNDEF_SUBSCRIBE
#endif
#endif

#include <coap3/lwippools.h>

#ifdef FW_POOLS_UNDEF_INTERNAL
#undef COAP_INTERNAL_H_
#undef FW_POOLS_UNDEF_INTERNAL
#endif
#ifdef FW_POOLS_UNDEF_NET
#undef COAP_NET_H_
#undef FW_POOLS_UNDEF_NET
#endif
#ifdef FW_POOLS_UNDEF_RESOURCE
#undef COAP_RESOURCE_H_
#undef FW_POOLS_UNDEF_RESOURCE
#endif
#ifdef FW_POOLS_UNDEF_SUBSCRIBE
#undef COAP_SUBSCRIBE_H_
#undef FW_POOLS_UNDEF_SUBSCRIBE
#endif
