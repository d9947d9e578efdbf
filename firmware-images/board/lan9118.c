#include "lan9118.h"

#include <string.h>

#include "board.h"
#include "mps2.h"

#define R(off) REG32(LAN9118_BASE + (off))
#define RX_DATA_FIFO 0x00
#define TX_DATA_FIFO 0x20
#define RX_STATUS_FIFO 0x40
#define TX_STATUS_FIFO 0x48
#define IRQ_CFG 0x54
#define INT_STS 0x58
#define INT_EN 0x5C
#define BYTE_TEST 0x64
#define FIFO_INT 0x68
#define RX_CFG 0x6C
#define TX_CFG 0x70
#define HW_CFG 0x74
#define RX_FIFO_INF 0x7C
#define TX_FIFO_INF 0x80
#define PMT_CTRL 0x84
#define MAC_CSR_CMD 0xA4
#define MAC_CSR_DATA 0xA8

#define IRQ_CFG_EN 0x100u
#define IRQ_CFG_POL 0x10u   // active high
#define IRQ_CFG_TYPE 0x01u  // push-pull
#define INT_RSFL 0x08u      // RX status FIFO level
#define TX_CFG_ON 0x02u
#define TX_CFG_SAO 0x04u  // TX status may overrun: we never read it
#define HW_CFG_SRST 0x01u
#define PMT_READY 0x01u

#define MAC_CR 1
#define MAC_ADDRH 2
#define MAC_ADDRL 3
#define MAC_CR_FDPX 0x00100000u
#define MAC_CR_TXEN 0x08u
#define MAC_CR_RXEN 0x04u
#define CSR_BUSY 0x80000000u
#define CSR_READ 0x40000000u

static uint32_t mac_read(uint32_t reg) {
  R(MAC_CSR_CMD) = CSR_BUSY | CSR_READ | reg;
  while (R(MAC_CSR_CMD) & CSR_BUSY) {
  }
  return R(MAC_CSR_DATA);
}

static void mac_write(uint32_t reg, uint32_t value) {
  R(MAC_CSR_DATA) = value;
  R(MAC_CSR_CMD) = CSR_BUSY | reg;
  while (R(MAC_CSR_CMD) & CSR_BUSY) {
  }
}

void ETH_Handler(void) {
  // Acknowledge and tell the main loop; it drains the FIFO.
  R(INT_STS) = INT_RSFL;
  board_eth_pending = 1;
}

int lan9118_init(uint8_t mac[6]) {
  if (R(BYTE_TEST) != 0x87654321u) return -1;
  R(HW_CFG) = HW_CFG_SRST;
  for (int i = 0; i < 100000 && (R(HW_CFG) & HW_CFG_SRST); ++i) {
  }
  for (int i = 0; i < 100000 && !(R(PMT_CTRL) & PMT_READY); ++i) {
  }
  uint32_t lo = mac_read(MAC_ADDRL), hi = mac_read(MAC_ADDRH);
  mac[0] = (uint8_t)lo;
  mac[1] = (uint8_t)(lo >> 8);
  mac[2] = (uint8_t)(lo >> 16);
  mac[3] = (uint8_t)(lo >> 24);
  mac[4] = (uint8_t)hi;
  mac[5] = (uint8_t)(hi >> 8);
  R(INT_EN) = 0;
  R(INT_STS) = 0xFFFFFFFFu;
  R(IRQ_CFG) = IRQ_CFG_EN | IRQ_CFG_POL | IRQ_CFG_TYPE;
  R(FIFO_INT) = 0x48000000u;  // RX status level 0: interrupt per frame
  R(RX_CFG) = 0;              // no offset, no end padding
  R(TX_CFG) = TX_CFG_ON | TX_CFG_SAO;
  mac_write(MAC_CR, MAC_CR_FDPX | MAC_CR_TXEN | MAC_CR_RXEN);
  R(INT_EN) = INT_RSFL;
  NVIC_ISER0 = 1u << LAN9118_IRQ;
  return 0;
}

void lan9118_send(const uint8_t* frame, size_t len) {
  // Command A: first and last segment, buffer size; B: packet length.
  R(TX_DATA_FIFO) = (1u << 13) | (1u << 12) | (uint32_t)len;
  R(TX_DATA_FIFO) = (uint32_t)len;
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    uint32_t w;
    memcpy(&w, frame + i, 4);
    R(TX_DATA_FIFO) = w;
  }
  if (i < len) {
    uint32_t w = 0;
    memcpy(&w, frame + i, len - i);
    R(TX_DATA_FIFO) = w;
  }
}

static uint32_t rx_status;  // the popped status of the frame being read

size_t lan9118_rx_next(void) {
  if (rx_status == 0) {
    if (((R(RX_FIFO_INF) >> 16) & 0xFF) == 0) return 0;
    rx_status = R(RX_STATUS_FIFO);
  }
  return (rx_status >> 16) & 0x3FFF;  // with the 4-byte FCS; never 0 for a frame
}

size_t lan9118_rx_read(uint8_t* buf, size_t buf_len) {
  uint32_t len = (rx_status >> 16) & 0x3FFF;
  uint32_t words = (len + 3) / 4;
  int fits = len >= 4 && words * 4 <= buf_len && !(rx_status & 0x8000u);  // no error summary
  for (uint32_t i = 0; i < words; ++i) {
    uint32_t w = R(RX_DATA_FIFO);
    if (fits) memcpy(buf + 4 * i, &w, 4);
  }
  rx_status = 0;
  return fits ? len - 4 : 0;
}
