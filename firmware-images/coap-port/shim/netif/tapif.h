// net.c's coap_client_delay_first() (WITH_LWIP) includes this inside a
// function and waits on lwIP's unix tap port. Only TCP/TLS sessions and
// Q-Block get there; the image uses neither. coap_io_fw.c defines
// tapif_select() to fail, so such a wait would end at once.
#pragma once
int tapif_select(void* netif);
