// A device's client configuration as key=value words: the emulator writes
// them on QEMU's -append line and the firmware image reads them back. One
// table serves both directions, so an option cannot mean one thing to the
// host and another to the image (firmware-images/README.md lists the words).
#pragma once

#include <string>
#include <vector>

#include "emulator/base/result.h"
#include "emulator/lwm2m/client/client.h"
#include "emulator/lwm2m/client/factory.h"

namespace hil::lwm2m {

struct BootConfig {
  ClientConfig client;  // client.endpoint is the word "ep"
  Factory factory;      // factory.bootstrap_uri is "bs", server_uri "server"
  // RFC 7252 transmission parameters of every session.
  TimeMs ack_timeout_ms = 2000;
  double ack_random_factor = 1.5;
  int max_retransmit = 4;
};

// Every word of `c`, "key=value", in the table's order. Retry settings are
// one set of words that set both bootstrap_retry and register_retry, so the
// words hold client.bootstrap_retry.
std::vector<std::string> to_words(const BootConfig& c);

// Whether `key` is one of the table's words.
bool is_boot_word(const std::string& key);

// Sets the word `key` of `c` from its text. Errors: kInvalidArgument (a key
// not in the table, or a value that does not parse or is out of range; the
// message names the word and what it wants).
Status set_boot_word(BootConfig& c, const std::string& key, const std::string& value);

// How a word's value is read: all of `text` is the number (or "0"/"1",
// "true"/"false"), else false and `out` untouched. The image's own words
// (flash_size, cut_op...) are read the same way.
bool parse_word(const std::string& text, int64_t* out);
bool parse_word(const std::string& text, uint64_t* out);
bool parse_word(const std::string& text, int* out);
bool parse_word(const std::string& text, double* out);
bool parse_word(const std::string& text, bool* out);

}  // namespace hil::lwm2m
