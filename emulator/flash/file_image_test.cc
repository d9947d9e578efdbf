#include "emulator/flash/file_image.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "emulator/flash/config_store.h"

namespace hil::flash {
namespace {

NorFlashOptions options() {
  NorFlashOptions o;
  o.geometry = Geometry{4 * 1024, 1024, 64};
  return o;
}

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

class FileImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ =
        ::testing::TempDir() + "hil_flash_" + t->name() + "_" + std::to_string(getpid()) + ".bin";
    std::remove(path_.c_str());
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(FileImageTest, Open_NoFile_CreatesErasedImage) {
  NorFlash f(options());
  Result<std::unique_ptr<FileImage>> img = FileImage::open(path_, f);
  ASSERT_TRUE(img.ok()) << img.error().message;
  EXPECT_EQ(read_file(path_), std::vector<uint8_t>(4096, 0xFF));
}

TEST_F(FileImageTest, Commit_ThenNewProcess_StoreReadsItBack) {
  const std::vector<uint8_t> config = {1, 2, 3, 4, 5};
  {
    NorFlash f(options());
    Result<std::unique_ptr<FileImage>> img = FileImage::open(path_, f);
    ASSERT_TRUE(img.ok());
    ConfigStore s(f);
    ASSERT_TRUE(s.mount().ok());
    ASSERT_TRUE(s.commit(config).ok());
    // Write-through: the file already matches, before any sync or close.
    EXPECT_EQ(read_file(path_), f.image());
  }
  NorFlash fresh(options());
  Result<std::unique_ptr<FileImage>> img = FileImage::open(path_, fresh);
  ASSERT_TRUE(img.ok());
  ConfigStore s(fresh);
  ASSERT_TRUE(s.mount().ok());
  EXPECT_EQ(s.load(), config);
}

TEST_F(FileImageTest, OnSyncMode_ChangesReachFileOnlyAtSync) {
  NorFlash f(options());
  Result<std::unique_ptr<FileImage>> img = FileImage::open(path_, f, FileSync::kOnSync);
  ASSERT_TRUE(img.ok());
  const uint8_t zeros[8] = {};
  ASSERT_TRUE(f.program(100, zeros, 8).ok());
  ASSERT_TRUE(f.flip_bit(3000, 0).ok());
  EXPECT_EQ(read_file(path_), std::vector<uint8_t>(4096, 0xFF));
  ASSERT_TRUE((*img)->sync().ok());
  EXPECT_EQ(read_file(path_), f.image());
}

TEST_F(FileImageTest, Open_WrongSize_ErrorNamesBothSizes) {
  { std::ofstream(path_, std::ios::binary) << "short"; }
  NorFlash f(options());
  Result<std::unique_ptr<FileImage>> img = FileImage::open(path_, f);
  ASSERT_FALSE(img.ok());
  EXPECT_NE(img.error().message.find("5 bytes"), std::string::npos) << img.error().message;
  EXPECT_EQ(img.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(img.error().message.find("4096"), std::string::npos);
}

TEST_F(FileImageTest, Open_UnwritableDirectory_Error) {
  NorFlash f(options());
  EXPECT_FALSE(FileImage::open("/nonexistent-dir/x.bin", f).ok());
}

}  // namespace
}  // namespace hil::flash
