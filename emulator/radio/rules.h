// Message-aware fault rules: "drop the first Bootstrap-Finish", "delay the
// second Write by 5 s". A rule names what it matches and what it does; the
// link evaluates its rules on every datagram before any random model.
// Every error here is ErrorCode::kInvalidArgument, naming the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "emulator/base/clock.h"
#include "emulator/base/result.h"
#include "emulator/radio/rng.h"

namespace hil::radio {

enum class Direction { Uplink /* device to server */, Downlink /* server to device */ };

const char* to_string(Direction dir);

struct Match {
  std::optional<Direction> direction;
  std::optional<uint8_t> coap_type;  // 0 CON, 1 NON, 2 ACK, 3 RST
  std::optional<uint8_t> code;       // method 1..4, or class * 32 + detail; 0 = empty
  // Glob on the Uri-Path: "/bs", "/1/0/1", "/1/*"; a "*" segment matches any
  // run of segments, even none; "/" is a request without Uri-Path. A response
  // matches the path of the request it answers, if that request crossed the
  // same link (see RuleSet).
  std::optional<std::string> path;
  std::optional<uint8_t> dtls_content_type;  // 20 ccs, 21 alert, 22 handshake, 23 app data
};

enum class Action { Drop, Delay, Duplicate, Corrupt };

const char* to_string(Action action);

struct Rule {
  std::string name;
  Match match;
  Action action = Action::Drop;
  TimeMs delay_ms = 0;       // Delay only: how long the datagram is held
  uint32_t nth = 1;          // fires from the nth matching datagram on
  uint32_t count = 1;        // fires this many times; 0 = unlimited
  double probability = 1.0;  // chance that an eligible datagram is hit
};

Status validate(const Rule& rule);

// Builds a rule from flat key/value pairs (what a Python dict becomes).
// Keys: name, direction, type, code, path, dtls, action, delay_ms, nth,
// count, probability; an unknown or repeated key is an error naming it.
Result<Rule> parse_rule(const std::vector<std::pair<std::string, std::string>>& fields);

// What the link knows about a datagram when it matches rules.
struct Classified {
  Direction direction = Direction::Uplink;
  std::optional<uint8_t> coap_type;
  std::optional<uint8_t> code;
  std::optional<std::string> path;  // requests, and responses to requests seen
  std::optional<uint8_t> dtls_content_type;
};

bool matches(const Match& match, const Classified& datagram);

// A link's rules with their counters. Responses carry no Uri-Path, so the set
// remembers the most recent requests it classified (token, message ID, path)
// and gives a response the path of the request it answers: by token, or by
// message ID for an empty ACK or RST.
class RuleSet {
 public:
  Status add(Rule rule);
  void clear() { rules_.clear(); }
  bool empty() const { return rules_.empty(); }

  Classified classify(Direction dir, const uint8_t* data, size_t len);

  // Counts the datagram against every rule it matches, then returns the first
  // rule that fires (nth reached, count not spent, probability drawn).
  const Rule* fire(const Classified& datagram, Rng& rng);

 private:
  struct Armed {
    Rule rule;
    uint32_t seen = 0;
    uint32_t fired = 0;
  };
  struct Request {
    Direction direction;
    uint16_t mid;
    std::vector<uint8_t> token;
    std::string path;
  };
  static constexpr size_t kRememberedRequests = 64;

  std::optional<std::string> answered_path(Direction dir, uint8_t type, uint16_t mid,
                                           const std::vector<uint8_t>& token) const;
  bool eligible(const Armed& armed, Rng& rng) const;

  std::vector<Armed> rules_;
  // The most recent requests, a ring once full: a vector, unlike a deque,
  // allocates nothing while empty, and most links never see a rule.
  std::vector<Request> requests_;
  size_t oldest_ = 0;
};

}  // namespace hil::radio
