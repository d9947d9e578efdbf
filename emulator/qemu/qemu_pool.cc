#include "emulator/qemu/qemu_pool.h"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>

namespace hil::qemu {
namespace {

bool same_machine(const QemuConfig& a, const QemuConfig& b) {
  return a.qemu == b.qemu && a.machine == b.machine && a.image == b.image &&
         a.network == b.network && a.extra_args == b.extra_args;
}

// The first thing QEMU said in its log (why it exited while starting).
std::string first_log_line(const std::string& path) {
  std::ifstream log(path);
  std::string line;
  while (std::getline(log, line))
    if (!line.empty()) return line.substr(0, 300);
  return "nothing in " + path;
}

}  // namespace

QemuPool::~QemuPool() { clear(); }

Status QemuPool::add(QemuConfig base, size_t count) {
  base.image = absolute_path(base.image);
  base.append.clear();
  std::string root = base.work_dir;
  for (size_t i = 0; i < count; ++i) {
    QemuConfig c = base;
    c.paused = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      c.work_dir = root + "/pooled-" + std::to_string(started_++);
    }
    HIL_TRY_ASSIGN(auto proc, QemuProcess::start(c));
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(Idle{base, std::move(proc), false});
  }
  return ok_status();
}

Result<size_t> QemuPool::wait_ready(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::optional<Error> failed;
  for (;;) {
    std::vector<pollfd> fds;
    size_t ready = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = idle_.begin(); it != idle_.end();) {
        it->ready = it->ready || it->proc->poll_ready();
        auto exit = it->ready ? std::nullopt : it->proc->poll_exit();
        if (exit) {  // QEMU failed (machine, image...): reaped and dropped
          failed = Error{ErrorCode::kIo,
                         "QEMU for " + it->base.image + " on machine " + it->base.machine +
                             " (pid " + std::to_string(it->proc->pid()) + ", " + exit->describe() +
                             ") while starting paused: " + first_log_line(it->proc->log_path())};
          it = idle_.erase(it);
          continue;
        }
        if (it->ready) {
          ++ready;
        } else {
          fds.push_back(pollfd{it->proc->qmp_fd(), POLLIN, 0});
        }
        ++it;
      }
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (fds.empty() || left.count() <= 0) {
      if (failed) return *failed;
      return ready;
    }
    // A descriptor taken and closed meanwhile only wakes this early: the
    // reads above happen under the lock, on the pool's own processes.
    ::poll(fds.data(), fds.size(), static_cast<int>(std::min<int64_t>(left.count(), 50)));
  }
}

std::unique_ptr<QemuProcess> QemuPool::take(const QemuConfig& config) {
  QemuConfig want = config;
  want.image = absolute_path(config.image);
  std::lock_guard<std::mutex> lock(mu_);
  auto best = idle_.end();
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (it->proc->poll_exit()) {  // died idle (killed, or QEMU failed)
      it = idle_.erase(it);
      continue;
    }
    if (same_machine(it->base, want)) {
      it->ready = it->ready || it->proc->poll_ready();
      if (best == idle_.end() || (it->ready && !best->ready)) best = it;
    }
    ++it;
  }
  if (best == idle_.end()) return nullptr;
  auto proc = std::move(best->proc);
  idle_.erase(best);
  return proc;
}

size_t QemuPool::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_.size();
}

void QemuPool::clear() {
  std::vector<Idle> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gone.swap(idle_);
  }
  gone.clear();  // each process killed, reaped and its directory removed
}

}  // namespace hil::qemu
