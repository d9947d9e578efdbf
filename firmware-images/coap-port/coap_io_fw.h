// Hooks of the firmware's libcoap I/O layer (coap_io_fw.c).
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct coap_session_t;
// Called for every datagram sent (first transmission, retransmission,
// ACK, RST) and received on a session, with its length.
typedef void (*coap_io_fw_hook_t)(struct coap_session_t* session, size_t len);
void coap_io_fw_set_hooks(coap_io_fw_hook_t on_tx, coap_io_fw_hook_t on_rx);

#ifdef __cplusplus
}
#endif
