// The I/O layer beneath libcoap 4.3.1's core on lwIP (raw API, NO_SYS).
//
// libcoap 4.3.1 built WITH_LWIP expects a src/coap_io_lwip.c that Debian's
// source does not ship, and the upstream one of that era has no client
// sessions, sends the PDU's own pbuf (lwIP writes its headers in front of
// it, so a retransmission of the same PDU goes out corrupted) and prints
// with raw printf. This file replaces it for a client:
//
// - coap_socket_connect_udp(): one connected udp_pcb per client session; its
//   receive callback hands each datagram to coap_dispatch() as the host's
//   coap_handle_dgram() does (a fresh MTU-sized PDU, then parse, dispatch).
// - coap_socket_send_pdu() / coap_socket_send(): every transmission is a
//   copy in a new pbuf, so retransmissions resend the same bytes.
// - Retransmission timing is libcoap's own (net.c hangs it off lwIP's
//   sys_timeout); the main loop calls sys_check_timeouts().
// - No listening endpoints: the image is a client. Requests from servers
//   arrive on the client sessions, as they do for the emulator's devices.
#include "coap_io_fw.h"

#include <stddef.h>
#include <string.h>

#include "coap3/coap_internal.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"

static coap_io_fw_hook_t tx_hook;
static coap_io_fw_hook_t rx_hook;

void coap_io_fw_set_hooks(coap_io_fw_hook_t on_tx, coap_io_fw_hook_t on_rx) {
  tx_hook = on_tx;
  rx_hook = on_rx;
}

static coap_session_t* session_of(coap_socket_t* sock) {
  return (coap_session_t*)((char*)sock - offsetof(coap_session_t, sock));
}

static void recv_cb(void* arg, struct udp_pcb* pcb, struct pbuf* p, const ip_addr_t* addr,
                    u16_t port) {
  (void)pcb;
  (void)addr;
  (void)port;  // the pcb is connected: only the session's peer gets here
  coap_session_t* session = (coap_session_t*)arg;
  size_t len = p->tot_len;
  if (rx_hook) rx_hook(session, len);
  if (len < 4) {  // shorter than a CoAP header
    pbuf_free(p);
    return;
  }
  // As coap_handle_dgram() on hosts: room for the largest PDU, since
  // libcoap may grow a received PDU in place (4.3.1's coap_pdu_resize()
  // does not reallocate WITH_LWIP).
  coap_pdu_t* pdu = coap_pdu_init(0, 0, 0, coap_session_max_pdu_size(session));
  if (pdu == NULL || len > pdu->max_size + 4) {
    // Out of pool memory, or larger than we accept: dropped, as a lost
    // datagram would be; the peer retransmits.
    coap_delete_pdu(pdu);
    pbuf_free(p);
    return;
  }
  // WITH_LWIP, coap_pdu_parse() expects the bytes in place already.
  uint8_t* start = pdu->token - 4;
  pbuf_copy_partial(p, start, (u16_t)len, 0);
  pbuf_free(p);
  if (!coap_pdu_parse(session->proto, start, len, pdu)) {
    coap_log(LOG_WARNING, "discard malformed PDU\n");
    coap_send_rst(session, pdu);
    coap_delete_pdu(pdu);
    return;
  }
  coap_ticks(&session->last_rx_tx);
  coap_dispatch(session->context, session, pdu);
  coap_delete_pdu(pdu);
}

int coap_socket_connect_udp(coap_socket_t* sock, const coap_address_t* local_if,
                            const coap_address_t* server, int default_port,
                            coap_address_t* local_addr, coap_address_t* remote_addr) {
  coap_session_t* session = session_of(sock);
  coap_address_t connect_addr = *server;
  if (coap_address_get_port(&connect_addr) == 0)
    coap_address_set_port(&connect_addr, (uint16_t)default_port);
  if (ip_addr_ismulticast(&connect_addr.addr)) {
    coap_log(LOG_WARNING, "multicast is not supported by this image\n");
    return 0;
  }
  struct udp_pcb* pcb = udp_new();
  if (pcb == NULL) return 0;
  const ip_addr_t* local_ip = local_if ? &local_if->addr : IP_ADDR_ANY;
  u16_t local_port = local_if ? coap_address_get_port(local_if) : 0;
  if (udp_bind(pcb, local_ip, local_port) != ERR_OK ||
      udp_connect(pcb, &connect_addr.addr, coap_address_get_port(&connect_addr)) != ERR_OK) {
    udp_remove(pcb);
    return 0;
  }
  udp_recv(pcb, recv_cb, session);
  sock->pcb = pcb;
  if (local_addr) {
    coap_address_init(local_addr);
    // Bound to any address: the interface's is the one peers see.
    if (ip_addr_isany(&pcb->local_ip) && netif_default != NULL)
      ip_addr_copy(local_addr->addr, *netif_ip_addr4(netif_default));
    else
      ip_addr_copy(local_addr->addr, pcb->local_ip);
    coap_address_set_port(local_addr, pcb->local_port);
  }
  if (remote_addr) *remote_addr = connect_addr;
  return 1;
}

void coap_socket_close(coap_socket_t* sock) {
  if (sock->pcb) udp_remove(sock->pcb);
  sock->pcb = NULL;
  sock->flags = COAP_SOCKET_EMPTY;
}

static ssize_t send_copy(coap_socket_t* sock, coap_session_t* session, const uint8_t* data,
                         size_t len) {
  if (sock->pcb == NULL || len > 0xFFFF) return -1;
  struct pbuf* p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)len, PBUF_RAM);
  if (p == NULL) return -1;
  memcpy(p->payload, data, len);
  err_t err = udp_sendto(sock->pcb, p, &session->addr_info.remote.addr,
                         coap_address_get_port(&session->addr_info.remote));
  pbuf_free(p);
  if (err != ERR_OK) {
    coap_log(LOG_WARNING, "udp_sendto: lwIP error %d\n", (int)err);
    return -1;
  }
  if (tx_hook) tx_hook(session, len);
  return (ssize_t)len;
}

ssize_t coap_socket_send_pdu(coap_socket_t* sock, coap_session_t* session, coap_pdu_t* pdu) {
  // A copy: the PDU stays intact for its retransmissions.
  return send_copy(sock, session, pdu->token - pdu->hdr_size, pdu->used_size + pdu->hdr_size);
}

ssize_t coap_socket_send(coap_socket_t* sock, coap_session_t* session, const uint8_t* data,
                         size_t data_len) {
  return send_copy(sock, session, data, data_len);
}

// TCP and listening endpoints are not part of this image.
ssize_t coap_socket_write(coap_socket_t* sock, const uint8_t* data, size_t data_len) {
  (void)sock;
  (void)data;
  (void)data_len;
  return -1;
}

coap_endpoint_t* coap_new_endpoint(coap_context_t* context, const coap_address_t* listen_addr,
                                   coap_proto_t proto) {
  (void)context;
  (void)listen_addr;
  (void)proto;
  coap_log(LOG_WARNING, "coap_new_endpoint: this image has client sessions only\n");
  return NULL;
}

void coap_free_endpoint(coap_endpoint_t* ep) { (void)ep; }

int tapif_select(void* netif) {
  (void)netif;
  return -1;
}

// net.c (WITH_LWIP) prints its retransmission scheduling with a raw printf;
// the build maps that printf here so the UART carries only the event log.
int coap_fw_quiet_printf(const char* format, ...) {
  (void)format;
  return 0;
}
