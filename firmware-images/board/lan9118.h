// Minimal SMSC LAN9118 driver (QEMU's model of the mps2 board's LAN9220):
// 32-bit PIO through the data FIFOs, one interrupt for "a frame arrived".
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Resets the chip, reads its MAC address, enables TX, RX and the RX
// interrupt (board_eth_pending). 0 on success, -1 if no chip answers.
int lan9118_init(uint8_t mac[6]);
// Sends one frame (no FCS; the chip adds it). Blocks only on the FIFO.
void lan9118_send(const uint8_t* frame, size_t len);
// Non-zero when a received frame waits (its length with the FCS).
size_t lan9118_rx_next(void);
// Pops the frame lan9118_rx_next() announced into buf and returns its
// length without the FCS; a frame with an error or longer than buf_len
// (rounded up to 4 bytes, FCS included) is popped and dropped (returns 0).
size_t lan9118_rx_read(uint8_t* buf, size_t buf_len);

#ifdef __cplusplus
}
#endif
