// libcoap 4.3.1 built for the image: its core on lwIP (WITH_LWIP), with
// the I/O layer in coap_io_fw.c instead of the missing coap_io_lwip.c.
#pragma once

#include <lwip/debug.h>
#include <lwip/def.h>
#include <lwip/opt.h>

#define WITH_LWIP 1
#define COAP_CONSTRAINED_STACK 1
#define COAP_DISABLE_TCP 1
#define WITHOUT_ASYNC 1
#define WITHOUT_OBSERVE 1

#define PACKAGE_NAME "libcoap"
#define PACKAGE_VERSION "4.3.1"
#define PACKAGE_STRING "libcoap 4.3.1"

#define HAVE_STRNLEN 1
#define INET6_ADDRSTRLEN 40  // coap_session_str()'s buffer; IPv4 only here
#define HAVE_LIMITS_H 1
#define HAVE_ASSERT_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_STDIO_H 1
#define HAVE_SYS_TYPES_H 1

#define assert(x) LWIP_ASSERT("CoAP assert failed", x)
