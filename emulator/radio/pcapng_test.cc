#include "emulator/radio/pcapng.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "emulator/radio/test_messages.h"

namespace hil::radio {
namespace {

using namespace test;

constexpr uint32_t kLocalhost = 0x7F000001;

std::string temp_path(const char* name) {
  return (testing::TempDir() + name) + std::to_string(getpid()) + ".pcapng";
}

std::string run(const std::string& command) {
  std::string out;
  std::FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  pclose(pipe);
  return out;
}

// Three datagrams: a Register on the standard port, then a Write and its ACK
// on a non-standard port that only a decode-as hint makes CoAP.
std::string write_capture() {
  const std::string path = temp_path("radio");
  auto writer = PcapngWriter::open(path);
  EXPECT_TRUE(writer.ok()) << writer.error().message;
  const Bytes reg = coap(kCon, kPost, 1, {1}, {"rd"}, "</1/0>");
  // Content-Format 11542 (LwM2M TLV) and a resource 1 = 86400.
  Bytes write = coap(kCon, kPut, 2, {2}, {"1", "0"});
  write.insert(write.end(), {0x12, 0x2D, 0x16, 0xFF, 0xC3, 0x01, 0x01, 0x51, 0x80});
  const Bytes ack = coap(kAck, kChanged, 2, {2});
  const Ipv4SocketAddress device{kLocalhost, 40000}, server{kLocalhost, 5683};
  const Ipv4SocketAddress server2{kLocalhost, 50000}, device2{kLocalhost, 40001};
  EXPECT_TRUE((*writer)->write(1000000, device, server, reg.data(), reg.size(), "passed").ok());
  EXPECT_TRUE((*writer)
                  ->write(1500000, server2, device2, write.data(), write.size(),
                          "rule 'slow-write': delayed by 5000 ms")
                  .ok());
  EXPECT_TRUE((*writer)->write(6500000, device2, server2, ack.data(), ack.size(), "").ok());
  EXPECT_TRUE((*writer)->flush().ok());
  return path;
}

TEST(Pcapng, BlocksAreWellFormed) {
  const std::string path = write_capture();
  std::ifstream in(path, std::ios::binary);
  const Bytes file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Walk the blocks by their lengths: every one is 4-aligned and closes with
  // its own length repeated.
  size_t pos = 0, blocks = 0;
  const auto u32 = [&](size_t at) {
    return file[at] | file[at + 1] << 8 | file[at + 2] << 16 | uint32_t{file[at + 3]} << 24;
  };
  while (pos + 12 <= file.size()) {
    const uint32_t length = u32(pos + 4);
    ASSERT_EQ(length % 4, 0u);
    ASSERT_LE(pos + length, file.size());
    EXPECT_EQ(u32(pos + length - 4), length);
    pos += length;
    ++blocks;
  }
  EXPECT_EQ(pos, file.size());
  EXPECT_EQ(blocks, 5u);  // section, interface, three packets
  EXPECT_EQ(u32(0), 0x0A0D0D0Au);
  std::remove(path.c_str());
}

TEST(Pcapng, TsharkDecodesCoapAndComments) {
  if (access("/usr/bin/tshark", X_OK) != 0) GTEST_SKIP() << "tshark is not installed";
  const std::string path = write_capture();
  const std::string out =
      run("/usr/bin/tshark -r " + path +
          " -d udp.port==40001,coap -T fields -E separator='|' -e coap.code -e coap.opt.uri_path"
          " -e frame.comment 2>/dev/null");
  EXPECT_EQ(out,
            "2|rd|passed\n"
            "3|1,0|rule 'slow-write': delayed by 5000 ms\n"
            "68||\n");
  std::remove(path.c_str());
}

TEST(Pcapng, TsharkChecksumsAndLwm2mTlv) {
  if (access("/usr/bin/tshark", X_OK) != 0) GTEST_SKIP() << "tshark is not installed";
  const std::string path = write_capture();
  const std::string out =
      run("/usr/bin/tshark -r " + path +
          " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -d udp.port==40001,coap -T fields"
          " -E separator='|' -e ip.checksum.status -e udp.checksum.status -e udp.srcport"
          " -e lwm2mtlv.object_name -e lwm2mtlv.resource_name -e lwm2mtlv.resource.lifetime"
          " 2>/dev/null");
  EXPECT_EQ(out,
            "1|1|40000|||\n"  // 1: good
            "1|1|50000|LwM2M Server|Lifetime|86400\n"
            "1|1|40001|||\n");
  std::remove(path.c_str());
}

TEST(Pcapng, SectionComment_CapinfosShowsIt) {
  const std::string path = temp_path("comment");
  auto writer = PcapngWriter::open(path, "decode with tshark -d udp.port==40001,coap");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->flush().ok());
  const std::string out = run("capinfos -k " + path + " 2>/dev/null");
  EXPECT_NE(out.find("decode with tshark -d udp.port==40001,coap"), std::string::npos) << out;
  std::remove(path.c_str());
}

TEST(Pcapng, Errors_SayWhatAndWhere) {
  auto bad = PcapngWriter::open("/nonexistent-dir/x.pcapng");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message,
            "pcapng: cannot open /nonexistent-dir/x.pcapng: No such file or directory");
  const std::string path = temp_path("big");
  auto writer = PcapngWriter::open(path);
  ASSERT_TRUE(writer.ok());
  const Bytes huge(70000, 0);
  const Status s = (*writer)->write(0, {}, {}, huge.data(), huge.size(), "");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "pcapng: payload 70000 B exceeds the UDP maximum 65507");
  std::remove(path.c_str());
}

}  // namespace
}  // namespace hil::radio
