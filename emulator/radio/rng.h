// The radio's one source of chance. Hand-rolled (xoshiro256** seeded through
// splitmix64) rather than <random> distributions, whose outputs differ between
// standard libraries: one seed must give one run on every toolchain.
#pragma once

#include <cstdint>
#include <string_view>

namespace hil::radio {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& word : s_) word = splitmix64(seed);
  }

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) from the top 53 bits, exact in a double.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Certain and impossible outcomes draw nothing, so a model that is switched
  // off leaves the stream of the others untouched.
  bool chance(double p) {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return unit() < p;
  }

  // Uniform in [0, n), without modulo bias; n must be > 0.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;
    uint64_t r = next();
    while (r < threshold) r = next();
    return r % n;
  }

  static uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// A link's seed from the run's seed and the device's identity (FNV-1a of the
// name, mixed), so adding a device does not change the faults of the others.
inline uint64_t link_seed(uint64_t run_seed, std::string_view device_id) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : device_id) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
  uint64_t state = run_seed ^ h;
  return Rng::splitmix64(state);
}

}  // namespace hil::radio
