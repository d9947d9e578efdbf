#include "emulator/runtime/placement.h"

namespace hil::runtime {

size_t least_loaded_loop(const std::vector<double>& load, const std::vector<double>& server_cost,
                         size_t devices) {
  size_t best = 0;
  double best_load = 0;
  for (size_t i = 0; i < load.size(); ++i) {
    double cost = i < server_cost.size() ? server_cost[i] : 0.0;
    double after = load[i] + static_cast<double>(devices) * (1.0 + cost);
    if (i == 0 || after < best_load) {
      best = i;
      best_load = after;
    }
  }
  return best;
}

void add_load(std::vector<double>& load, const std::vector<double>& server_cost, size_t chosen,
              size_t devices) {
  for (size_t i = 0; i < load.size() && i < server_cost.size(); ++i)
    load[i] += static_cast<double>(devices) * server_cost[i];
  if (chosen < load.size()) load[chosen] += static_cast<double>(devices);
}

}  // namespace hil::runtime
