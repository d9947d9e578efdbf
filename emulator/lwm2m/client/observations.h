// Observations (RFC 7641 as LwM2M 1.0 uses it, 5.5) and the notification
// attributes a server sets with Write-Attributes: pmin, pmax, gt, lt, st.
// Sans-I/O like the rest of the core: the client hands it the time and the
// current content of each observed path, and it says whether a
// notification is due and when it next needs to look.
//
// A change notifies at once if pmin has passed since the last
// notification, else when it has; with no change, pmax forces one. With
// gt, lt or st set on a numeric resource, only a change that crosses gt or
// lt, or moves st from the last notified value, counts as a change.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "emulator/base/clock.h"
#include "emulator/lwm2m/model/message.h"
#include "emulator/lwm2m/model/path.h"

namespace hil::lwm2m {

struct NotifyAttributes {
  std::optional<int64_t> pmin_s, pmax_s;
  std::optional<double> gt, lt, st;
};

class Observations {
 public:
  struct Entry {
    Bytes token;  // the server's, names the observation
    uint16_t ssid = 0;
    Path path;
    uint16_t format = 0;
    Bytes sent;                         // content last sent (the answer, then notifications)
    std::optional<double> sent_number;  // its value, for a numeric resource
    TimeMs sent_at = 0;
    bool pending = false;  // a change waits for pmin
  };

  // Registers `e` (sent: the answer's content, at `now`), replacing an
  // observation with the same token; returns the answer's Observe value.
  uint32_t add(TimeMs now, Entry e);
  // Cancels the observation named by `token`; the path it had, if any.
  std::optional<Path> remove(const Bytes& token);
  void clear() { entries_.clear(); }
  size_t size() const { return entries_.size(); }
  std::vector<Entry>& entries() { return entries_; }

  // Write-Attributes (PUT with a query, no payload): sets or, given without
  // a value ("pmax"), removes each attribute on `path` for server `ssid`.
  // An error says which item is wrong; nothing is applied then.
  std::optional<std::string> write_attributes(uint16_t ssid, const Path& path,
                                              const std::vector<std::string>& query);
  // What applies to `path`: each attribute from the path itself, else from
  // its instance, else from its object (LwM2M 1.0, 5.1.2).
  NotifyAttributes attributes(uint16_t ssid, const Path& path) const;

  // Whether `e` notifies at `now`, its path's content being `content`
  // (`number` for a numeric resource). On yes, `e` records it as sent and
  // the Observe value of the notification comes back.
  std::optional<uint32_t> check(TimeMs now, Entry& e, const Bytes& content,
                                std::optional<double> number);
  // When check() must run again without a change (pmin of a pending
  // change, pmax), if ever.
  std::optional<TimeMs> next_deadline() const;

 private:
  bool qualifies(const Entry& e, const NotifyAttributes& a, const Bytes& content,
                 std::optional<double> number) const;
  uint32_t next_seq() { return seq_++ & 0xFFFFFF; }

  std::vector<Entry> entries_;
  std::map<std::pair<uint16_t, std::string>, NotifyAttributes> attrs_;  // by (ssid, path)
  // One counter for all observations: values only grow, so a server that
  // observes the same path again never sees an old number as new.
  uint32_t seq_ = 0;
};

}  // namespace hil::lwm2m
