// lwIP's compiler and platform glue for arm-none-eabi-gcc and newlib.
#pragma once

#include <stdlib.h>

#include "board.h"

#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
  } while (0)
#define LWIP_PLATFORM_ASSERT(x) board_fault(x)
#define LWIP_NO_CTYPE_H 0
// newlib's <sys/errno.h> has every value lwIP uses.
#define LWIP_ERRNO_INCLUDE <errno.h>
