#include "emulator/runtime/descriptors.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace hil::runtime {

size_t open_descriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  size_t n = 0;
  while (dirent* e = readdir(dir))
    if (e->d_name[0] != '.') ++n;
  closedir(dir);
  return n > 0 ? n - 1 : 0;  // less the directory stream itself
}

Status reserve_descriptors(size_t more, const std::string& what) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
    return Error{ErrorCode::kIo, std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno)};
  size_t open = open_descriptors();
  size_t need = open + more + DescriptorCosts::kHeadroom;
  if (lim.rlim_cur == RLIM_INFINITY || need <= lim.rlim_cur) return ok_status();
  if (lim.rlim_max != RLIM_INFINITY && need > lim.rlim_max) {
    return Error{ErrorCode::kResourceExhausted,
                 what + " need about " + std::to_string(more) + " more file descriptors (" +
                     std::to_string(open) + " are open), but this process may open at most " +
                     std::to_string(lim.rlim_max) +
                     " (RLIMIT_NOFILE, hard limit): create fewer devices per process, or split "
                     "the fleet over several processes (shards), each with part of the devices"};
  }
  rlimit raised = lim;
  raised.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &raised) != 0)
    return Error{ErrorCode::kResourceExhausted,
                 what + " need about " + std::to_string(need) +
                     " file descriptors, and raising RLIMIT_NOFILE from " +
                     std::to_string(lim.rlim_cur) + " failed: " + std::strerror(errno)};
  return ok_status();
}

}  // namespace hil::runtime
