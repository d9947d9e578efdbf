#include "emulator/lwm2m/client/backoff.h"

#include <algorithm>
#include <cmath>

namespace hil::lwm2m {

double Backoff::uniform() {
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

TimeMs Backoff::next() {
  double d = static_cast<double>(p_.initial_ms) * std::pow(p_.factor, attempt_);
  d = std::min(d, static_cast<double>(p_.max_ms));
  ++attempt_;
  return static_cast<TimeMs>(d * (1.0 - p_.jitter * uniform()));
}

}  // namespace hil::lwm2m
