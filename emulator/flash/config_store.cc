#include "emulator/flash/config_store.h"

#include <algorithm>
#include <string>

#include "emulator/flash/crc32.h"

namespace hil::flash {
namespace {

// On-flash format, version 1 (README.md). Little-endian 32-bit words.
constexpr uint32_t kSectorMagic = 0x47464348;  // "HCFG"
constexpr uint32_t kRecordMagic = 0x43455248;  // "HREC"
constexpr uint32_t kFormatVersion = 1;
constexpr uint32_t kSectorHeaderSize = 16;  // magic, version, generation, crc
constexpr uint32_t kRecordHeaderSize =
    32;  // commit, magic, seq, kind, length, boot, payload crc, crc
// Any value other than the erased 0xFFFFFFFF would do; this one has ones and
// zeros in every byte, so a torn marker cannot look committed.
constexpr uint32_t kCommitted = 0x5AFEC0DE;
// Sequence numbers run 1..kMaxSeq and never wrap: more commits than any
// chip's endurance allows, and no wrap-around comparison to get wrong.
constexpr uint32_t kMaxSeq = 0x7FFFFFFF;
constexpr uint32_t kChunk = 64;  // read buffer on the stack

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t get32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint32_t align4(uint32_t n) { return (n + 3) & ~3u; }
uint32_t record_size(uint32_t length) { return align4(kRecordHeaderSize + length); }

}  // namespace

ConfigStore::ConfigStore(Flash& flash, const StoreOptions& options)
    : flash_(flash), options_(options) {}

uint32_t ConfigStore::addr_of(uint32_t index, uint32_t pos) const {
  return (options_.first_sector + index) * sector_size() + pos;
}

uint32_t ConfigStore::max_payload() const {
  const uint32_t ss = sector_size();
  return ss < kSectorHeaderSize + kRecordHeaderSize ? 0
                                                    : ss - kSectorHeaderSize - kRecordHeaderSize;
}

Status ConfigStore::resolve_range() {
  const Geometry& g = flash_.geometry();
  const uint32_t total = g.sectors();
  if (options_.first_sector >= total) {
    return Error{ErrorCode::kInvalidArgument, "store starts at sector " +
                                                  std::to_string(options_.first_sector) +
                                                  " but the flash has " + std::to_string(total)};
  }
  count_ = options_.sector_count ? options_.sector_count : total - options_.first_sector;
  if (count_ < 2 || count_ > total - options_.first_sector) {
    return Error{ErrorCode::kInvalidArgument,
                 "store needs 2 or more sectors inside the flash; asked for " +
                     std::to_string(count_) + " from sector " +
                     std::to_string(options_.first_sector) + " of " + std::to_string(total)};
  }
  if (g.sector_size % 4 || g.sector_size < 2 * (kSectorHeaderSize + kRecordHeaderSize)) {
    return Error{ErrorCode::kInvalidArgument,
                 "store needs sectors of 96 bytes or more, a multiple of 4"};
  }
  return ok_status();
}

Status ConfigStore::scan_sector(uint32_t index, StoreView* view) {
  const uint32_t ss = sector_size();
  uint8_t h[kRecordHeaderSize];
  HIL_TRY(flash_.read(addr_of(index, 0), h, kSectorHeaderSize));
  SectorView sv;
  sv.sector = options_.first_sector + index;
  sv.header_ok = get32(h) == kSectorMagic && get32(h + 4) == kFormatVersion &&
                 get32(h + 12) == crc32(0, h, 12);
  sv.generation = sv.header_ok ? get32(h + 8) : 0;
  sv.bad = index < sectors_.size() && sectors_[index].bad;
  sv.write_offset = ss;
  if (!sv.header_ok) {
    view->sectors.push_back(sv);
    return ok_status();
  }
  uint32_t pos = kSectorHeaderSize;
  while (pos + kRecordHeaderSize <= ss) {
    HIL_TRY(flash_.read(addr_of(index, pos), h, kRecordHeaderSize));
    if (std::all_of(h, h + kRecordHeaderSize, [](uint8_t b) { return b == 0xFF; })) {
      sv.write_offset = pos;
      break;
    }
    RecordView r;
    r.sector = sv.sector;
    r.offset = pos;
    const uint32_t length = get32(h + 16);
    const uint32_t kind = get32(h + 12);
    // Without an intact header the length is unknown, so nothing after it in
    // this sector can be found: the scan stops and the sector takes no more.
    r.header_ok = get32(h + 4) == kRecordMagic && get32(h + 28) == crc32(0, h + 4, 24) &&
                  (kind == uint32_t(RecordKind::kPayload) || kind == uint32_t(RecordKind::kBoot)) &&
                  length <= ss - pos - kRecordHeaderSize && get32(h + 8) >= 1 &&
                  get32(h + 8) <= kMaxSeq;
    if (!r.header_ok) {
      view->records.push_back(r);
      break;
    }
    r.seq = get32(h + 8);
    r.kind = static_cast<RecordKind>(kind);
    r.length = length;
    r.boot_count = get32(h + 20);
    r.committed = get32(h) == kCommitted;
    uint32_t crc = 0;
    uint8_t chunk[kChunk];
    for (uint32_t done = 0; done < length;) {
      const uint32_t n = std::min(kChunk, length - done);
      HIL_TRY(flash_.read(addr_of(index, pos + kRecordHeaderSize + done), chunk, n));
      crc = crc32(crc, chunk, n);
      done += n;
    }
    r.crc_ok = crc == get32(h + 24);
    view->records.push_back(r);
    pos += record_size(length);
  }
  view->sectors.push_back(sv);
  return ok_status();
}

Result<StoreView> ConfigStore::inspect() {
  HIL_TRY(resolve_range());
  StoreView view;
  for (uint32_t i = 0; i < count_; ++i) {
    HIL_TRY(scan_sector(i, &view));
  }
  SectorView* active = nullptr;
  for (SectorView& s : view.sectors) {
    if (s.header_ok && (!active || s.generation > active->generation)) active = &s;
  }
  if (active) active->active = true;
  // The newest intact record gives the boot counter, the newest intact
  // payload record the payload; a corrupt newer one is passed over.
  RecordView* newest = nullptr;
  RecordView* newest_payload = nullptr;
  for (RecordView& r : view.records) {
    if (!r.header_ok || !r.committed || !r.crc_ok) continue;
    if (!newest || r.seq > newest->seq) newest = &r;
    if (r.kind == RecordKind::kPayload && (!newest_payload || r.seq > newest_payload->seq)) {
      newest_payload = &r;
    }
  }
  if (newest) newest->live = true;
  if (newest_payload) newest_payload->live = true;
  return view;
}

Status ConfigStore::mount() {
  mounted_ = false;
  sectors_.clear();
  HIL_TRY_ASSIGN(StoreView view, inspect());
  sectors_.assign(count_, Sector{});
  active_.reset();
  payload_sector_.reset();
  payload_.reset();
  boot_count_ = 0;
  next_seq_ = 1;
  max_generation_ = 0;
  for (uint32_t i = 0; i < count_; ++i) {
    const SectorView& s = view.sectors[i];
    sectors_[i] = Sector{s.header_ok, s.generation, s.write_offset, false};
    if (s.active) active_ = i;
    if (s.header_ok) max_generation_ = std::max(max_generation_, s.generation);
  }
  const RecordView* newest = nullptr;
  for (const RecordView& r : view.records) {
    if (!r.header_ok) continue;
    next_seq_ = std::max(next_seq_, r.seq + 1);
    if (!r.live) continue;
    if (!newest || r.seq > newest->seq) newest = &r;
    if (r.kind != RecordKind::kPayload) continue;
    const uint32_t index = r.sector - options_.first_sector;
    std::vector<uint8_t> bytes(r.length);
    HIL_TRY(flash_.read(addr_of(index, r.offset + kRecordHeaderSize), bytes.data(), r.length));
    payload_ = std::move(bytes);
    payload_sector_ = index;
  }
  if (newest) boot_count_ = newest->boot_count;
  mounted_ = true;
  return options_.count_boot_on_mount ? count_boot() : ok_status();
}

Status ConfigStore::commit(const std::vector<uint8_t>& payload) {
  return write_state(RecordKind::kPayload, &payload, boot_count_, false);
}

Status ConfigStore::count_boot() {
  return write_state(RecordKind::kBoot, nullptr, boot_count_ + 1, false);
}

Status ConfigStore::factory_reset(const std::vector<uint8_t>& factory) {
  // Copy first: write_state replaces payload_, which `factory` may alias.
  const std::vector<uint8_t> copy = factory;
  HIL_TRY(write_state(RecordKind::kPayload, &copy, boot_count_, true));
  for (uint32_t i = 0; i < count_; ++i) {
    if (i == *active_) continue;
    HIL_TRY(flash_.erase(options_.first_sector + i));
    sectors_[i].valid = false;
    sectors_[i].write_pos = sector_size();
  }
  return ok_status();
}

Status ConfigStore::write_state(RecordKind kind, const std::vector<uint8_t>* payload, uint32_t boot,
                                bool fresh) {
  if (!mounted_)
    return Error{ErrorCode::kFailedPrecondition, "config store not mounted; call mount() first"};
  const uint32_t length = payload ? static_cast<uint32_t>(payload->size()) : 0;
  if (payload && payload->size() > max_payload()) {
    return Error{ErrorCode::kResourceExhausted,
                 "payload of " + std::to_string(payload->size()) + " bytes does not fit a " +
                     std::to_string(sector_size()) + "-byte sector (at most " +
                     std::to_string(max_payload()) + "); the stored configuration is unchanged"};
  }
  if (next_seq_ > kMaxSeq)
    return Error{ErrorCode::kResourceExhausted,
                 "record sequence numbers are used up; factory-format"};
  const uint32_t size = record_size(length);
  if (!fresh && active_ && !sectors_[*active_].bad) {
    Sector& s = sectors_[*active_];
    if (s.write_pos + size <= sector_size()) {
      HIL_TRY_ASSIGN(bool blank, is_blank(addr_of(*active_, s.write_pos), size));
      if (blank) {
        Status st = write_record(*active_, s.write_pos, kind, payload, boot);
        if (st) {
          s.write_pos += size;
          if (kind == RecordKind::kPayload) {
            payload_ = *payload;
            payload_sector_ = *active_;
          }
          boot_count_ = boot;
          return st;
        }
        if (st.is(ErrorCode::kPowerLost)) return st;
      }
      // Bits where erased ones should be, or a failed verify: this sector
      // takes no more records.
      s.write_pos = sector_size();
    }
  }
  // A new sector holds the whole state, so the older sectors become unneeded.
  std::vector<uint8_t> carried;
  if (kind == RecordKind::kBoot && payload_) {
    carried = *payload_;
    kind = RecordKind::kPayload;
    payload = &carried;
  }
  for (uint32_t attempt = 0; attempt < count_; ++attempt) {
    uint32_t index = 0;
    HIL_TRY(open_new_sector(&index));
    Status st = write_record(index, kSectorHeaderSize, kind, payload, boot);
    if (st) {
      sectors_[index].write_pos = kSectorHeaderSize + record_size(payload ? payload->size() : 0);
      if (kind == RecordKind::kPayload) {
        payload_ = *payload;
        payload_sector_ = index;
      }
      boot_count_ = boot;
      return st;
    }
    if (st.is(ErrorCode::kPowerLost)) return st;
    sectors_[index].bad = true;
  }
  return Error{ErrorCode::kResourceExhausted,
               "no sector of the store takes a record; the stored configuration is unchanged"};
}

Status ConfigStore::open_new_sector(uint32_t* opened) {
  const uint32_t start = active_ ? *active_ + 1 : 0;
  for (uint32_t k = 0; k < count_; ++k) {
    const uint32_t i = (start + k) % count_;
    // Never erase the only copy of the live payload: a cut before the new
    // record commits must leave it readable.
    if (sectors_[i].bad || (payload_sector_ && i == *payload_sector_)) continue;
    HIL_TRY(flash_.erase(options_.first_sector + i));
    sectors_[i].valid = false;
    sectors_[i].write_pos = sector_size();
    // Worn cells can keep zeros through an erase; such a sector is skipped.
    HIL_TRY_ASSIGN(bool blank, is_blank(addr_of(i, 0), sector_size()));
    if (!blank) {
      sectors_[i].bad = true;
      continue;
    }
    uint8_t h[kSectorHeaderSize];
    put32(h, kSectorMagic);
    put32(h + 4, kFormatVersion);
    put32(h + 8, max_generation_ + 1);
    put32(h + 12, crc32(0, h, 12));
    HIL_TRY(program_split(addr_of(i, 0), h, sizeof h));
    uint8_t back[kSectorHeaderSize];
    HIL_TRY(flash_.read(addr_of(i, 0), back, sizeof back));
    if (!std::equal(h, h + sizeof h, back)) {
      sectors_[i].bad = true;
      continue;
    }
    sectors_[i] = Sector{true, ++max_generation_, kSectorHeaderSize, false};
    active_ = i;
    *opened = i;
    return ok_status();
  }
  return Error{ErrorCode::kResourceExhausted,
               "no sector of the store can be erased without losing the live configuration; "
               "the stored configuration is unchanged"};
}

Status ConfigStore::write_record(uint32_t index, uint32_t pos, RecordKind kind,
                                 const std::vector<uint8_t>* payload, uint32_t boot) {
  const uint32_t length = payload ? static_cast<uint32_t>(payload->size()) : 0;
  const uint8_t* data = payload ? payload->data() : nullptr;
  uint8_t h[kRecordHeaderSize];
  put32(h, 0xFFFFFFFF);  // the commit marker, programmed last
  put32(h + 4, kRecordMagic);
  put32(h + 8, next_seq_++);
  put32(h + 12, static_cast<uint32_t>(kind));
  put32(h + 16, length);
  put32(h + 20, boot);
  put32(h + 24, crc32(0, data, length));
  put32(h + 28, crc32(0, h + 4, 24));
  const uint32_t addr = addr_of(index, pos);
  HIL_TRY(program_split(addr + 4, h + 4, kRecordHeaderSize - 4));
  HIL_TRY(program_split(addr + kRecordHeaderSize, data, length));
  // Verify before committing: a record that did not land as written must
  // never get a marker.
  uint8_t chunk[kChunk];
  for (uint32_t done = 0; done < kRecordHeaderSize - 4 + length;) {
    const uint32_t n = std::min(kChunk, kRecordHeaderSize - 4 + length - done);
    HIL_TRY(flash_.read(addr + 4 + done, chunk, n));
    for (uint32_t j = 0; j < n; ++j) {
      const uint32_t at = done + j;
      const uint8_t want =
          at < kRecordHeaderSize - 4 ? h[4 + at] : data[at - (kRecordHeaderSize - 4)];
      if (chunk[j] != want)
        return Error{ErrorCode::kDataLoss, "record did not verify after programming"};
    }
    done += n;
  }
  uint8_t marker[4];
  put32(marker, kCommitted);
  HIL_TRY(program_split(addr, marker, 4));
  uint8_t back[4];
  HIL_TRY(flash_.read(addr, back, 4));
  if (!std::equal(marker, marker + 4, back))
    return Error{ErrorCode::kDataLoss, "commit marker did not verify"};
  return ok_status();
}

Status ConfigStore::program_split(uint32_t addr, const uint8_t* data, size_t len) {
  const uint32_t page = flash_.geometry().page_size;
  while (len) {
    const size_t n = std::min<size_t>(len, page - addr % page);
    HIL_TRY(flash_.program(addr, data, n));
    addr += static_cast<uint32_t>(n);
    data += n;
    len -= n;
  }
  return ok_status();
}

Result<bool> ConfigStore::is_blank(uint32_t addr, uint32_t len) {
  uint8_t chunk[kChunk];
  for (uint32_t done = 0; done < len;) {
    const uint32_t n = std::min(kChunk, len - done);
    HIL_TRY(flash_.read(addr + done, chunk, n));
    if (!std::all_of(chunk, chunk + n, [](uint8_t b) { return b == 0xFF; })) return false;
    done += n;
  }
  return true;
}

}  // namespace hil::flash
