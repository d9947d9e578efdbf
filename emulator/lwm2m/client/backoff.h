// Exponential backoff with jitter and a cap. Jitter is not optional: a fleet
// that retries in step is a thundering herd at its server.
#pragma once

#include <cstdint>

#include "emulator/base/clock.h"

namespace hil::lwm2m {

class Backoff {
 public:
  struct Params {
    TimeMs initial_ms = 2'000;
    double factor = 2.0;
    TimeMs max_ms = 120'000;
    // Each delay is drawn uniformly from [d * (1 - jitter), d].
    double jitter = 0.5;
  };

  Backoff(Params p, uint64_t seed) : p_(p), rng_(seed) {}

  TimeMs next();  // the delay before the next attempt
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  double uniform();  // [0, 1), splitmix64: small, seedable, no <random>

  Params p_;
  uint64_t rng_;
  int attempt_ = 0;
};

}  // namespace hil::lwm2m
