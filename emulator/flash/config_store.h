// A power-safe configuration store on a range of flash sectors.
//
// It holds one opaque payload (the device serializes its configuration with
// the TLV codec) and a boot counter. A commit either lands whole or not at all:
// after a power cut at any byte of any write, mount() finds exactly the last
// committed state. Records carry CRC-32s and a commit marker written last;
// a corrupt record is never used, the previous good one is. Sectors are used
// round-robin, and the sector holding the live payload is never erased.
// README.md describes the on-flash format. Firmware-clean: no clock, file,
// thread or exception; errors are Status values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "emulator/base/result.h"
#include "emulator/flash/nor_flash.h"

namespace hil::flash {

struct StoreOptions {
  uint32_t first_sector = 0;
  uint32_t sector_count = 0;         // 0: every sector from first_sector to the end; at least 2
  bool count_boot_on_mount = false;  // mount() then also calls count_boot()
};

enum class RecordKind : uint32_t {
  kPayload = 1,  // a configuration, and the boot counter at the time
  kBoot = 2,     // only a new boot counter
};

// What inspect() decodes, for people and for Python.
struct RecordView {
  uint32_t sector = 0;
  uint32_t offset = 0;  // from the sector's start
  bool header_ok =
      false;  // when false the fields below are not trusted and the sector's scan stops
  uint32_t seq = 0;
  RecordKind kind = RecordKind::kPayload;
  uint32_t length = 0;
  uint32_t boot_count = 0;
  bool committed = false;  // the commit marker is intact
  bool crc_ok = false;     // the payload matches its CRC
  bool live = false;       // the record load() or boot_count() comes from
};

struct SectorView {
  uint32_t sector = 0;  // index on the flash
  bool header_ok = false;
  uint32_t generation = 0;
  bool active = false;        // where the next commit appends
  bool bad = false;           // failed to erase or to verify since mount
  uint32_t write_offset = 0;  // where the next record may go; the sector size when full or unusable
};

struct StoreView {
  std::vector<SectorView> sectors;
  std::vector<RecordView> records;
};

class ConfigStore {
 public:
  // `flash` must outlive the store. Call mount() before anything else.
  ConfigStore(Flash& flash, const StoreOptions& options = {});

  // Scans the sectors and recovers the newest committed, intact state.
  // Writes nothing unless count_boot_on_mount. An image holding nothing valid
  // mounts as empty. Errors: kInvalidArgument (a sector range that does not
  // fit the flash or has fewer than 2 sectors), the flash's read errors
  // (kPowerLost), count_boot()'s errors.
  Status mount();

  // The latest committed payload, or nullopt when none is stored (empty).
  const std::optional<std::vector<uint8_t>>& load() const { return payload_; }
  uint32_t boot_count() const { return boot_count_; }

  // Stores `payload` as the new state; on success it is durable. Errors:
  // kFailedPrecondition (not mounted), kResourceExhausted (the payload does
  // not fit one sector (max_payload()), sequence numbers used up, no sector
  // left that erases and verifies), kPowerLost. On any error the
  // stored state is the old one or, after a power cut, the old or the new one.
  Status commit(const std::vector<uint8_t>& payload);
  // Increments the boot counter durably. Errors as commit().
  Status count_boot();
  // Replaces everything with `factory`: written to a freshly erased sector,
  // then every other sector is erased so no old configuration remains. The
  // boot counter is kept. A cut leaves the old state or the factory one.
  // Errors as commit().
  Status factory_reset(const std::vector<uint8_t>& factory);

  // Largest payload a commit accepts.
  uint32_t max_payload() const;
  // Decodes the sectors as they are on flash now. Errors: the flash's read
  // errors (kPowerLost).
  Result<StoreView> inspect();

 private:
  struct Sector {
    bool valid = false;  // header intact
    uint32_t generation = 0;
    uint32_t write_pos = 0;  // where the next record may go; sector size when none fits
    bool bad = false;
  };
  Status resolve_range();
  Status scan_sector(uint32_t index, StoreView* view);
  // Appends to the active sector when the record fits there and `fresh` is
  // false, else opens a new sector; retries in another sector after a failed
  // verify. A new sector gets the whole state so older ones become unneeded.
  Status write_state(RecordKind kind, const std::vector<uint8_t>* payload, uint32_t boot,
                     bool fresh);
  // Erases a sector the live state does not need and writes its header.
  Status open_new_sector(uint32_t* opened);
  // Programs header and payload, verifies them, then the commit marker.
  Status write_record(uint32_t index, uint32_t pos, RecordKind kind,
                      const std::vector<uint8_t>* payload, uint32_t boot);
  Status program_split(uint32_t addr, const uint8_t* data, size_t len);
  Result<bool> is_blank(uint32_t addr, uint32_t len);
  uint32_t addr_of(uint32_t index, uint32_t pos) const;
  uint32_t sector_size() const { return flash_.geometry().sector_size; }

  Flash& flash_;
  StoreOptions options_;
  bool mounted_ = false;
  uint32_t count_ = 0;  // sectors in the store
  std::vector<Sector> sectors_;
  std::optional<uint32_t> active_;          // index into sectors_
  std::optional<uint32_t> payload_sector_;  // where the live payload record is
  std::optional<std::vector<uint8_t>> payload_;
  uint32_t boot_count_ = 0;
  uint32_t next_seq_ = 1;
  uint32_t max_generation_ = 0;
};

}  // namespace hil::flash
