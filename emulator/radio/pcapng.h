// The radio's capture as pcapng (one section, one raw-IPv4 interface), with
// what the radio did to each datagram as its packet comment. Host side: it
// writes through stdio, so it lives in hil_radio_capture, away from the
// firmware-clean core. Not thread-safe; the host serializes its writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "emulator/base/ipv4.h"
#include "emulator/base/result.h"

namespace hil::radio {

class PcapngWriter {
 public:
  // `comment` becomes the section header's opt_comment, what capinfos and
  // Wireshark's capture properties show: e.g. how to decode the file.
  // Errors here: kIo, and kInvalidArgument for a payload over 65507 bytes.
  static Result<std::unique_ptr<PcapngWriter>> open(const std::string& path,
                                                    const std::string& comment = "");
  ~PcapngWriter();
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  // One UDP datagram in a synthesized IPv4 header, stamped timestamp_us
  // (microseconds since the epoch, the interface's default resolution).
  Status write(uint64_t timestamp_us, const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
               const uint8_t* payload, size_t len, const std::string& comment);
  Status flush();

 private:
  PcapngWriter(std::FILE* file, std::string path) : file_(file), path_(std::move(path)) {}
  Status put(const std::vector<uint8_t>& block);

  std::FILE* file_;
  std::string path_;
  uint16_t ip_id_ = 0;
};

}  // namespace hil::radio
