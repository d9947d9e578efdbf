#include "emulator/radio/rules.h"

#include <gtest/gtest.h>

#include <cmath>

#include "emulator/radio/link.h"
#include "emulator/radio/test_messages.h"

namespace hil::radio {
namespace {

using namespace test;
using Fields = std::vector<std::pair<std::string, std::string>>;

Rule rule(const Fields& fields) {
  Result<Rule> r = parse_rule(fields);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Rule{};
}

std::string parse_error(const Fields& fields) {
  Result<Rule> r = parse_rule(fields);
  return r.ok() ? "(parsed)" : r.error().message;
}

Verdict send(Link& link, TimeMs now, Direction dir, const Bytes& data) {
  return link.decide(now, dir, data.data(), data.size());
}

const auto kUp = Direction::Uplink;
const auto kDown = Direction::Downlink;

TEST(ParseRule, AllKeys) {
  const Rule r = rule({{"name", "n"},
                       {"direction", "downlink"},
                       {"type", "con"},
                       {"code", "POST"},
                       {"path", "/bs"},
                       {"action", "delay"},
                       {"delay_ms", "5000"},
                       {"nth", "2"},
                       {"count", "0"},
                       {"probability", "0.5"}});
  EXPECT_EQ(r.name, "n");
  EXPECT_EQ(r.match.direction, kDown);
  EXPECT_EQ(r.match.coap_type, kCon);
  EXPECT_EQ(r.match.code, kPost);
  EXPECT_EQ(r.match.path, "/bs");
  EXPECT_EQ(r.action, Action::Delay);
  EXPECT_EQ(r.delay_ms, 5000);
  EXPECT_EQ(r.nth, 2u);
  EXPECT_EQ(r.count, 0u);
  EXPECT_EQ(r.probability, 0.5);
}

TEST(ParseRule, CodesTypesAndDtls) {
  EXPECT_EQ(rule({{"code", "2.04"}, {"action", "drop"}}).match.code, kChanged);
  EXPECT_EQ(rule({{"code", "0.00"}, {"action", "drop"}}).match.code, 0);
  EXPECT_EQ(rule({{"code", "4.04"}, {"action", "drop"}}).match.code, 4 * 32 + 4);
  EXPECT_EQ(rule({{"code", "delete"}, {"action", "drop"}}).match.code, kDelete);
  EXPECT_EQ(rule({{"type", "RST"}, {"action", "drop"}}).match.coap_type, kRst);
  EXPECT_EQ(rule({{"direction", "up"}, {"action", "drop"}}).match.direction, kUp);
  EXPECT_EQ(rule({{"dtls", "handshake"}, {"action", "drop"}}).match.dtls_content_type, 22);
  EXPECT_EQ(rule({{"dtls", "application_data"}, {"action", "drop"}}).match.dtls_content_type, 23);
}

TEST(ParseRule, Errors_NameTheKeyAndWhatIsAllowed) {
  EXPECT_EQ(parse_error({{"action", "drop"}, {"colour", "red"}}),
            "unknown key 'colour'; allowed: name, direction, type, code, path, dtls, action, "
            "delay_ms, nth, count, probability");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"probability", "1.5"}}),
            "probability: must be 0..1, got 1.5");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"probability", "half"}}),
            "probability: must be a number 0..1, got \"half\"");
  EXPECT_EQ(parse_error({{"action", "delay"}, {"delay_ms", "-3"}}),
            "delay_ms: must be an integer 0..9223372036854775807, got \"-3\"");
  EXPECT_EQ(parse_error({{"action", "delay"}}), "delay_ms: must be > 0 for action delay, got 0");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"nth", "0"}}), "nth: must be >= 1, got 0");
  EXPECT_EQ(parse_error({{"action", "explode"}}),
            "action: must be one of drop, delay, duplicate, corrupt, got \"explode\"");
  EXPECT_EQ(parse_error({{"type", "CON"}}),
            "action: required, one of drop, delay, duplicate, corrupt");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"code", "2.40"}}),
            "code: must be GET, POST, PUT, DELETE or \"c.dd\" like \"2.04\" or \"0.00\", got "
            "\"2.40\"");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"direction", "sideways"}}),
            "direction: must be one of up, down, uplink, downlink, got \"sideways\"");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"path", "bs"}}),
            "path: must be a Uri-Path glob starting with '/' like \"/bs\" or \"/1/*\", got \"bs\"");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"path", "/1*"}}),
            "path: must be '*' only as a whole segment (\"/1/*\"), got \"/1*\"");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"dtls", "handshake"}, {"type", "CON"}}),
            "dtls: cannot be combined with type, code or path (DTLS hides the CoAP message)");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"action", "drop"}}), "key 'action' given twice");
  EXPECT_EQ(parse_error({{"action", "drop"}, {"nth", "1x"}}),
            "nth: must be an integer 0..4294967295, got \"1x\"");
}

TEST(Matches, PathGlob) {
  Classified d;
  d.path = "/1/0/1";
  const auto m = [&](const char* glob) { return matches(Match{{}, {}, {}, glob, {}}, d); };
  EXPECT_TRUE(m("/1/0/1"));
  EXPECT_TRUE(m("/1/*"));
  EXPECT_TRUE(m("/*/1"));
  EXPECT_TRUE(m("/*"));
  EXPECT_TRUE(m("/1/0/1/*"));  // "*" may match no segment
  EXPECT_FALSE(m("/1/0"));
  EXPECT_FALSE(m("/1/*/2"));
  EXPECT_FALSE(m("/"));
  d.path = "";
  EXPECT_TRUE(m("/"));
  EXPECT_TRUE(m("/*"));
  d.path.reset();
  EXPECT_FALSE(m("/*"));  // a path was asked for and none is known
}

TEST(Rules, DropFirstBootstrapFinish) {
  Link link(LinkConfig{}, 1);
  ASSERT_TRUE(link.add_rule(rule({{"name", "drop-finish"},
                                  {"direction", "down"},
                                  {"code", "POST"},
                                  {"path", "/bs"},
                                  {"action", "drop"}}))
                  .ok());
  const Bytes request = coap(kCon, kPost, 1, {9}, {"bs"});  // the device's Bootstrap-Request
  const Bytes finish = coap(kCon, kPost, 0x77, {1}, {"bs"});
  EXPECT_EQ(send(link, 0, kUp, request).fate, Fate::Delivered);
  const Verdict first = send(link, 10, kDown, finish);
  EXPECT_EQ(first.fate, Fate::DroppedRule);
  EXPECT_EQ(first.rule, "drop-finish");
  EXPECT_EQ(first.comment, "dropped by rule 'drop-finish'");
  EXPECT_EQ(send(link, 2010, kDown, finish).fate, Fate::Delivered);  // the retransmission
  EXPECT_EQ(link.counters().downlink.dropped_rule, 1u);
}

TEST(Rules, DropAckOfFinish_ByTheFinishPath) {
  Link link(LinkConfig{}, 1);
  ASSERT_TRUE(link.add_rule(rule({{"name", "drop-finish-ack"},
                                  {"direction", "up"},
                                  {"type", "ACK"},
                                  {"code", "2.04"},
                                  {"path", "/bs"},
                                  {"action", "drop"}}))
                  .ok());
  // A Write is answered with 2.04 too; only the Finish's answer matches.
  const Bytes write = coap(kCon, kPut, 0x10, {1}, {"0", "1"});
  const Bytes write_ack = coap(kAck, kChanged, 0x10, {1});
  const Bytes finish = coap(kCon, kPost, 0x11, {2}, {"bs"});
  const Bytes finish_ack = coap(kAck, kChanged, 0x11, {2});
  send(link, 0, kDown, write);
  EXPECT_EQ(send(link, 1, kUp, write_ack).fate, Fate::Delivered);
  send(link, 2, kDown, finish);
  EXPECT_EQ(send(link, 3, kUp, finish_ack).fate, Fate::DroppedRule);
  send(link, 2000, kDown, finish);  // retransmitted, same MID: the device ACKs again
  EXPECT_EQ(send(link, 2001, kUp, finish_ack).fate, Fate::Delivered);
}

TEST(Rules, EmptyAckMatchesCodeZeroAndItsRequestByMid) {
  Link link(LinkConfig{}, 1);
  ASSERT_TRUE(
      link.add_rule(rule({{"type", "ACK"}, {"code", "0.00"}, {"path", "/rd"}, {"action", "drop"}}))
          .ok());
  send(link, 0, kUp, coap(kCon, kPost, 5, {7}, {"rd"}));
  const Verdict v = send(link, 1, kDown, coap(kAck, 0, 5, {}));
  EXPECT_EQ(v.fate, Fate::DroppedRule);
  EXPECT_EQ(v.rule, "rule-1");  // unnamed rules are numbered
}

TEST(Rules, SeparateResponseTakesThePathOfItsRequestByToken) {
  RuleSet set;
  const Bytes request = coap(kCon, kPost, 6, {8, 8}, {"rd"});
  const Bytes response = coap(kCon, kCreated, 0x500, {8, 8});
  set.classify(kUp, request.data(), request.size());
  const Classified c = set.classify(kDown, response.data(), response.size());
  EXPECT_EQ(c.path, "/rd");
  const Bytes stranger = coap(kCon, kCreated, 0x501, {9});
  EXPECT_FALSE(set.classify(kDown, stranger.data(), stranger.size()).path);
}

// 64 requests are remembered; past that the oldest give way, and the most
// recent of two with one message ID is the one a response is matched to.
TEST(Rules, ResponsesMeetTheLast64RequestsNewestFirst) {
  RuleSet set;
  auto classify = [&](Direction dir, const Bytes& b) {
    return set.classify(dir, b.data(), b.size());
  };
  for (uint16_t mid = 0; mid < 100; ++mid)
    classify(kUp, coap(kCon, kPost, mid, {}, {"r" + std::to_string(mid)}));
  EXPECT_FALSE(classify(kDown, coap(kAck, kChanged, 35, {})).path);
  EXPECT_EQ(classify(kDown, coap(kAck, kChanged, 36, {})).path, "/r36");
  EXPECT_EQ(classify(kDown, coap(kAck, kChanged, 99, {})).path, "/r99");
  classify(kUp, coap(kCon, kPost, 99, {}, {"again"}));
  EXPECT_EQ(classify(kDown, coap(kAck, kChanged, 99, {})).path, "/again");
  EXPECT_FALSE(classify(kDown, coap(kAck, kChanged, 36, {})).path);
}

TEST(Rules, DelaySecondWriteBy5s) {
  LinkConfig c;
  c.delay_ms = 20;
  Link link(c, 1);
  ASSERT_TRUE(link.add_rule(rule({{"name", "slow-write"},
                                  {"code", "PUT"},
                                  {"action", "delay"},
                                  {"delay_ms", "5000"},
                                  {"nth", "2"}}))
                  .ok());
  const Bytes write = coap(kCon, kPut, 1, {1}, {"1", "0", "1"});
  EXPECT_EQ(send(link, 0, kDown, write).copies[0].delay_ms, 20);
  const Verdict second = send(link, 1, kDown, write);
  EXPECT_EQ(second.copies[0].delay_ms, 5020);
  EXPECT_EQ(second.comment, "rule 'slow-write': delayed by 5020 ms");
  EXPECT_EQ(send(link, 2, kDown, write).copies[0].delay_ms, 20);  // count 1: spent
}

TEST(Rules, DuplicateAndCorruptActions_CountUnlimited) {
  Link link(LinkConfig{}, 1);
  ASSERT_TRUE(link.add_rule(rule({{"code", "GET"}, {"action", "duplicate"}, {"count", "0"}})).ok());
  ASSERT_TRUE(link.add_rule(rule({{"code", "PUT"}, {"action", "corrupt"}})).ok());
  const Bytes get = coap(kCon, kGet, 1, {}, {"3"});
  const Bytes put = coap(kCon, kPut, 1, {}, {"3"});
  for (int i = 0; i < 5; ++i) EXPECT_EQ(send(link, i, kDown, get).copies.size(), 2u);
  const Verdict v = send(link, 9, kDown, put);
  EXPECT_TRUE(v.corrupted);
  EXPECT_NE(v.copies[0].data, put);
}

TEST(Rules, Probability_FiresAboutThatOften) {
  Link link(LinkConfig{}, 77);
  ASSERT_TRUE(
      link
          .add_rule(rule(
              {{"direction", "up"}, {"action", "drop"}, {"count", "0"}, {"probability", "0.25"}}))
          .ok());
  const Bytes any = coap(kNon, kPost, 1, {}, {"x"});
  int dropped = 0;
  for (int i = 0; i < 10000; ++i) dropped += send(link, i, kUp, any).fate == Fate::DroppedRule;
  EXPECT_NEAR(dropped, 2500, 5 * std::sqrt(10000 * 0.25 * 0.75));
}

TEST(Rules, DtlsRecordType) {
  Link link(LinkConfig{}, 1);
  ASSERT_TRUE(link.add_rule(rule({{"dtls", "handshake"}, {"action", "drop"}, {"nth", "2"}})).ok());
  const Bytes hello = dtls_record(22, 60);
  const Bytes data = dtls_record(23, 30);
  EXPECT_EQ(send(link, 0, kUp, hello).fate, Fate::Delivered);
  EXPECT_EQ(send(link, 1, kUp, data).fate, Fate::Delivered);
  EXPECT_EQ(send(link, 2, kDown, hello).fate, Fate::DroppedRule);
  // A CoAP field never matches DTLS, and a DTLS type never matches CoAP.
  Classified dtls = RuleSet().classify(kUp, hello.data(), hello.size());
  EXPECT_FALSE(matches(Match{{}, kCon, {}, {}, {}}, dtls));
}

TEST(Rules, EveryRuleCountsItsOwnMatches_FirstFiringWins) {
  Link link(LinkConfig{}, 1);
  ASSERT_TRUE(link.add_rule(rule({{"name", "a"}, {"code", "PUT"}, {"action", "drop"}})).ok());
  ASSERT_TRUE(
      link.add_rule(rule({{"name", "b"}, {"code", "PUT"}, {"action", "duplicate"}, {"nth", "2"}}))
          .ok());
  const Bytes put = coap(kCon, kPut, 1, {}, {"1"});
  EXPECT_EQ(send(link, 0, kDown, put).rule, "a");
  EXPECT_EQ(send(link, 1, kDown, put).rule, "b");  // b saw the first PUT as well
  EXPECT_EQ(send(link, 2, kDown, put).rule, "");
  link.clear_rules();
  EXPECT_FALSE(link.add_rule(Rule{"bad", {}, Action::Drop, 0, 0}).ok());
}

TEST(Rules, RuleBeatsRandomLossButNotPartition) {
  LinkConfig c;
  c.loss = 1;
  c.partitions = {Partition{100, 200}};
  Link link(c, 1);
  ASSERT_TRUE(link.add_rule(rule({{"code", "PUT"}, {"action", "duplicate"}, {"count", "0"}})).ok());
  const Bytes put = coap(kCon, kPut, 1, {}, {"1"});
  EXPECT_EQ(send(link, 0, kDown, put).fate, Fate::Delivered);
  EXPECT_EQ(send(link, 150, kDown, put).fate, Fate::DroppedPartition);
}

}  // namespace
}  // namespace hil::radio
