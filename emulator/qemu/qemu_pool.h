// Pre-started QEMU processes, paused before the image's first instruction,
// for devices to take when they boot. Starting QEMU costs about 75 ms of
// CPU (machine, image, TCG); a fleet that boots at once pays it all at
// once. A pooled process has paid it already: the device hands it its
// firmware arguments and lets it run (QemuProcess::resume()).
//
// A process serves one (qemu, machine, image, network, extra_args): the
// image is loaded when QEMU starts, and QEMU cannot load another one later
// (-kernel, no monitor command). The image must read `args_file=`
// (firmware-images/README.md, "Pooled start"). The pool never refills
// itself: replacements would compete with the devices just booting.
//
// add() on the thread that is to be the processes' parent (PR_SET_PDEATHSIG:
// they die with it); the rest from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "emulator/base/result.h"
#include "emulator/qemu/qemu_process.h"

namespace hil::qemu {

class QemuPool {
 public:
  QemuPool() = default;
  ~QemuPool();  // kills what was not taken
  QemuPool(const QemuPool&) = delete;
  QemuPool& operator=(const QemuPool&) = delete;

  // Starts `count` paused QEMUs for `base` (its qemu, machine, image,
  // network, extra_args), each in a directory of its own under
  // base.work_dir. Errors: QemuProcess::start()'s; those started before
  // the error stay in the pool.
  Status add(QemuConfig base, size_t count);
  // Blocks until every idle process has answered QMP (it has loaded the
  // image) or `timeout_ms` passed; returns how many are ready. Error: kIo,
  // a process exited instead (QEMU's first log line says why); it and any
  // other that did are reaped and dropped, the live ones stay.
  Result<size_t> wait_ready(int timeout_ms);
  // A paused process started for `config`'s qemu, machine, image, network
  // and extra_args, one that answered QMP first; null if none is left.
  // Processes that died idle are dropped.
  std::unique_ptr<QemuProcess> take(const QemuConfig& config);
  size_t idle() const;
  // Kills every idle process (and removes its directory).
  void clear();

 private:
  struct Idle {
    QemuConfig base;
    std::unique_ptr<QemuProcess> proc;
    bool ready = false;
  };
  mutable std::mutex mu_;
  std::vector<Idle> idle_;
  size_t started_ = 0;  // names the directories
};

}  // namespace hil::qemu
