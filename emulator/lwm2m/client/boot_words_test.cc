// The words the emulator writes for a firmware image are the words the image
// reads: every setting survives the trip, and a bad word names itself.
#include "emulator/lwm2m/client/boot_words.h"

#include <gtest/gtest.h>

namespace hil::lwm2m {
namespace {

BootConfig unusual() {
  BootConfig c;
  c.client.endpoint = "dev-7";
  c.client.profile = Profile::V1_1;
  c.client.request_finish = false;
  c.client.finish_fallback = true;
  c.client.finish_timeout_ms = 12'345;
  c.client.idle_timeout_ms = 678;
  c.client.bootstrap_retry = c.client.register_retry = {150, 1.25, 9'000, 0.1};
  c.client.max_bootstrap_attempts = 3;
  c.client.register_attempts = 5;
  c.factory.bootstrap_uri = "coap://10.0.2.2:5683";
  c.factory.server_uri = "coap://10.0.2.2:5690";
  c.factory.server_ssid = 7;
  c.factory.server_lifetime_s = 60;
  c.factory.hold_off_s = 4;
  c.ack_timeout_ms = 300;
  c.ack_random_factor = 1.0 / 3 + 1;
  c.max_retransmit = 2;
  return c;
}

BootConfig parsed(const std::vector<std::string>& words) {
  BootConfig c;
  for (const auto& w : words) {
    auto eq = w.find('=');
    EXPECT_TRUE(set_boot_word(c, w.substr(0, eq), w.substr(eq + 1))) << w;
  }
  return c;
}

TEST(BootWords, EverySettingSurvivesTheTrip) {
  BootConfig want = unusual();
  BootConfig got = parsed(to_words(want));
  EXPECT_EQ(got.client.endpoint, want.client.endpoint);
  EXPECT_EQ(got.client.profile, want.client.profile);
  EXPECT_EQ(got.client.request_finish, want.client.request_finish);
  EXPECT_EQ(got.client.finish_fallback, want.client.finish_fallback);
  EXPECT_EQ(got.client.finish_timeout_ms, want.client.finish_timeout_ms);
  EXPECT_EQ(got.client.idle_timeout_ms, want.client.idle_timeout_ms);
  for (const auto* r : {&got.client.bootstrap_retry, &got.client.register_retry}) {
    EXPECT_EQ(r->initial_ms, 150);
    EXPECT_EQ(r->factor, 1.25);
    EXPECT_EQ(r->max_ms, 9'000);
    EXPECT_EQ(r->jitter, 0.1);
  }
  EXPECT_EQ(got.client.max_bootstrap_attempts, 3);
  EXPECT_EQ(got.client.register_attempts, 5);
  EXPECT_EQ(got.factory.bootstrap_uri, want.factory.bootstrap_uri);
  EXPECT_EQ(got.factory.server_uri, want.factory.server_uri);
  EXPECT_EQ(got.factory.server_ssid, 7);
  EXPECT_EQ(got.factory.server_lifetime_s, 60);
  EXPECT_EQ(got.factory.hold_off_s, 4);
  EXPECT_EQ(got.ack_timeout_ms, 300);
  EXPECT_EQ(got.ack_random_factor, want.ack_random_factor);  // bit for bit
  EXPECT_EQ(got.max_retransmit, 2);
}

TEST(BootWords, TheDefaultsAreTheClientsDefaults) {
  // An image given no word runs as an emulated device given no option.
  BootConfig named;
  named.client.endpoint = "d";
  BootConfig got = parsed(to_words(named));
  EXPECT_EQ(got.client.finish_timeout_ms, ClientConfig{}.finish_timeout_ms);
  EXPECT_EQ(got.client.register_attempts, ClientConfig{}.register_attempts);
  EXPECT_EQ(got.factory.server_lifetime_s, Factory{}.server_lifetime_s);
}

TEST(BootWords, ABadWordNamesItselfAndWhatItWants) {
  BootConfig c;
  auto bad = set_boot_word(c, "retry_jitter", "2");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.is(ErrorCode::kInvalidArgument));
  EXPECT_NE(bad.error().message.find("retry_jitter='2'"), std::string::npos);
  EXPECT_NE(bad.error().message.find("0..1"), std::string::npos);
  EXPECT_EQ(c.client.bootstrap_retry.jitter, BootConfig{}.client.bootstrap_retry.jitter);
  EXPECT_FALSE(set_boot_word(c, "finish_timeout_ms", "12x"));
  EXPECT_FALSE(set_boot_word(c, "profile", "2.0"));
  EXPECT_FALSE(set_boot_word(c, "ep", ""));
  auto unknown = set_boot_word(c, "finish_timeout", "5");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("unknown argument 'finish_timeout'"), std::string::npos);
  uint64_t u = 7;
  EXPECT_FALSE(parse_word("-1", &u));  // strtoull would wrap it
  EXPECT_EQ(u, 7u);
  EXPECT_FALSE(is_boot_word("flash"));
  EXPECT_TRUE(is_boot_word("max_retransmit"));
}

}  // namespace
}  // namespace hil::lwm2m
