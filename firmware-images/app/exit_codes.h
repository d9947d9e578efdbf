// Exit codes of the image (semihosting SYS_EXIT_EXTENDED, so QEMU exits with
// them). QEMU itself exits 1 on its own errors, so 1 is never used here.
#pragma once

namespace fw {

constexpr int kExitBadArguments = 2;  // -append is missing something or malformed
constexpr int kExitPowerCut = 3;      // the flash model cut power at the armed operation
constexpr int kExitFlashImage = 4;    // the flash image file cannot be used
constexpr int kExitBootFailed = 5;    // the store cannot be mounted or decoded
constexpr int kExitNoNetwork = 6;     // no Ethernet chip answered
constexpr int kExitFault = 70;        // hard fault, assertion, out of memory (board_fault)

}  // namespace fw
