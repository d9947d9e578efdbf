#include "netif_lan9118.h"

#include <string.h>

#include "lan9118.h"
#include "lwip/etharp.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#define FRAME_MAX 1536

unsigned long lan9118_frames_in, lan9118_frames_out;
static uint32_t frame_buf[FRAME_MAX / 4 + 2];  // aligned for the FIFO's words

static err_t link_output(struct netif* netif, struct pbuf* p) {
  (void)netif;
  if (p->tot_len > FRAME_MAX) return ERR_BUF;
  pbuf_copy_partial(p, frame_buf, p->tot_len, 0);
  lan9118_send((const uint8_t*)frame_buf, p->tot_len);
  lan9118_frames_out++;
  return ERR_OK;
}

err_t lan9118_netif_init(struct netif* netif) {
  if (lan9118_init(netif->hwaddr) != 0) return ERR_IF;
  netif->name[0] = 'e';
  netif->name[1] = 'n';
  netif->hwaddr_len = ETH_HWADDR_LEN;
  netif->mtu = 1500;
  netif->output = etharp_output;
  netif->linkoutput = link_output;
  netif->flags =
      NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

int lan9118_netif_poll(struct netif* netif) {
  int n = 0;
  size_t len;
  while ((len = lan9118_rx_next()) != 0) {
    len = lan9118_rx_read((uint8_t*)frame_buf, sizeof frame_buf);
    if (len == 0) continue;  // bad or oversized: dropped
    struct pbuf* p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
    if (p == NULL) continue;  // out of pool buffers: dropped, as on a busy chip
    pbuf_take(p, frame_buf, (u16_t)len);
    lan9118_frames_in++;
    if (netif->input(p, netif) != ERR_OK) pbuf_free(p);
    ++n;
  }
  return n;
}
