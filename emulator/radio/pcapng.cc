#include "emulator/radio/pcapng.h"

#include <cerrno>
#include <cstring>

namespace hil::radio {
namespace {

constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescription = 1;
constexpr uint32_t kEnhancedPacket = 6;
constexpr uint16_t kLinktypeRaw = 101;  // each packet starts with its IPv4 header
constexpr uint16_t kOptComment = 1;
constexpr size_t kMaxOption = 65535;  // an option's length is 16 bits
constexpr size_t kIpHeader = 20;
constexpr size_t kUdpHeader = 8;

// pcapng is written little-endian throughout (the byte-order magic says so);
// the synthesized IP and UDP headers are big-endian, as on the wire.
void le16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(v & 0xFF);
  out.push_back(v >> 8);
}
void le32(std::vector<uint8_t>& out, uint32_t v) {
  le16(out, v & 0xFFFF);
  le16(out, v >> 16);
}
void be16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(v >> 8);
  out.push_back(v & 0xFF);
}
void be32(std::vector<uint8_t>& out, uint32_t v) {
  be16(out, v >> 16);
  be16(out, v & 0xFFFF);
}
void pad4(std::vector<uint8_t>& out) {
  while (out.size() % 4 != 0) out.push_back(0);
}

// Wraps a block body in its type and (repeated) total length.
std::vector<uint8_t> block(uint32_t type, const std::vector<uint8_t>& body) {
  std::vector<uint8_t> out;
  const uint32_t total = static_cast<uint32_t>(body.size() + 12);
  le32(out, type);
  le32(out, total);
  out.insert(out.end(), body.begin(), body.end());
  le32(out, total);
  return out;
}

void option(std::vector<uint8_t>& out, uint16_t code, const std::string& value) {
  le16(out, code);
  le16(out, static_cast<uint16_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
  pad4(out);
}

void end_of_options(std::vector<uint8_t>& out) { le32(out, 0); }

std::vector<uint8_t> section_header(const std::string& comment) {
  std::vector<uint8_t> body;
  le32(body, 0x1A2B3C4D);  // byte-order magic
  le16(body, 1);           // version 1.0
  le16(body, 0);
  le32(body, 0xFFFFFFFF);  // section length unknown
  le32(body, 0xFFFFFFFF);
  if (!comment.empty()) option(body, kOptComment, comment.substr(0, kMaxOption));
  option(body, 4, "lwm2m-hil radio");  // shb_userappl
  end_of_options(body);
  return block(kSectionHeader, body);
}

std::vector<uint8_t> interface_description() {
  std::vector<uint8_t> body;
  le16(body, kLinktypeRaw);
  le16(body, 0);             // reserved
  le32(body, 0);             // no snapshot limit
  option(body, 2, "radio");  // if_name; if_tsresol stays the default, microseconds
  end_of_options(body);
  return block(kInterfaceDescription, body);
}

uint32_t sum16(const uint8_t* data, size_t len, uint32_t sum) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (len % 2 != 0) sum += data[len - 1] << 8;
  return sum;
}

uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// The UDP checksum over the IPv4 pseudo-header, header and payload; 0 is sent
// as 0xFFFF since 0 means "no checksum".
uint16_t udp_checksum(const Ipv4SocketAddress& src, const Ipv4SocketAddress& dst,
                      const uint8_t* udp, size_t len) {
  uint32_t sum = (src.ip >> 16) + (src.ip & 0xFFFF) + (dst.ip >> 16) + (dst.ip & 0xFFFF);
  sum += 17 + static_cast<uint32_t>(len);
  const uint16_t checksum = fold(sum16(udp, len, sum));
  return checksum == 0 ? 0xFFFF : checksum;
}

std::vector<uint8_t> ipv4_udp(uint16_t id, const Ipv4SocketAddress& src,
                              const Ipv4SocketAddress& dst, const uint8_t* payload, size_t len) {
  std::vector<uint8_t> p;
  p.push_back(0x45);  // version 4, 5-word header
  p.push_back(0);
  be16(p, static_cast<uint16_t>(kIpHeader + kUdpHeader + len));
  be16(p, id);
  be16(p, 0x4000);  // don't fragment
  p.push_back(64);  // TTL
  p.push_back(17);  // UDP
  be16(p, 0);       // header checksum, below
  be32(p, src.ip);
  be32(p, dst.ip);
  const uint16_t ip_checksum = fold(sum16(p.data(), kIpHeader, 0));
  p[10] = ip_checksum >> 8;
  p[11] = ip_checksum & 0xFF;
  be16(p, src.port);
  be16(p, dst.port);
  be16(p, static_cast<uint16_t>(kUdpHeader + len));
  be16(p, 0);  // checksum, below
  if (len > 0) p.insert(p.end(), payload, payload + len);
  const uint16_t checksum = udp_checksum(src, dst, p.data() + kIpHeader, kUdpHeader + len);
  p[kIpHeader + 6] = checksum >> 8;
  p[kIpHeader + 7] = checksum & 0xFF;
  return p;
}

std::vector<uint8_t> enhanced_packet(uint64_t timestamp_us, const std::vector<uint8_t>& packet,
                                     const std::string& comment) {
  std::vector<uint8_t> body;
  le32(body, 0);  // interface 0
  le32(body, static_cast<uint32_t>(timestamp_us >> 32));
  le32(body, static_cast<uint32_t>(timestamp_us & 0xFFFFFFFF));
  le32(body, static_cast<uint32_t>(packet.size()));  // captured
  le32(body, static_cast<uint32_t>(packet.size()));  // on the wire
  body.insert(body.end(), packet.begin(), packet.end());
  pad4(body);
  if (!comment.empty()) {
    option(body, kOptComment, comment);
    end_of_options(body);
  }
  return block(kEnhancedPacket, body);
}

}  // namespace

Result<std::unique_ptr<PcapngWriter>> PcapngWriter::open(const std::string& path,
                                                         const std::string& comment) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr)
    return Error{ErrorCode::kIo, "pcapng: cannot open " + path + ": " + std::strerror(errno)};
  std::unique_ptr<PcapngWriter> writer(new PcapngWriter(file, path));
  HIL_TRY(writer->put(section_header(comment)));
  HIL_TRY(writer->put(interface_description()));
  return writer;
}

PcapngWriter::~PcapngWriter() { std::fclose(file_); }

Status PcapngWriter::write(uint64_t timestamp_us, const Ipv4SocketAddress& src,
                           const Ipv4SocketAddress& dst, const uint8_t* payload, size_t len,
                           const std::string& comment) {
  constexpr size_t kMaxPayload = 65535 - kIpHeader - kUdpHeader;
  if (len > kMaxPayload) {
    return Error{ErrorCode::kInvalidArgument, "pcapng: payload " + std::to_string(len) +
                                                  " B exceeds the UDP maximum " +
                                                  std::to_string(kMaxPayload)};
  }
  const std::string note = comment.substr(0, kMaxOption);
  return put(enhanced_packet(timestamp_us, ipv4_udp(ip_id_++, src, dst, payload, len), note));
}

Status PcapngWriter::flush() {
  if (std::fflush(file_) == 0) return ok_status();
  return Error{ErrorCode::kIo, "pcapng: flush of " + path_ + " failed: " + std::strerror(errno)};
}

Status PcapngWriter::put(const std::vector<uint8_t>& data) {
  if (std::fwrite(data.data(), 1, data.size(), file_) == data.size()) return ok_status();
  return Error{ErrorCode::kIo, "pcapng: write to " + path_ + " failed: " + std::strerror(errno)};
}

}  // namespace hil::radio
