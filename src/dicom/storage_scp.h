// pneumo's DICOM network node: a C-STORE SCP (with C-ECHO) that hands each received instance, as
// a Part 10 file in memory, to an InstanceSink and answers with the status the sink chose.
//
//   class Sink : public InstanceSink { StoreStatus Store(const IncomingInstance& i) override; };
//   auto scp = StorageScp::Start({.ae_title = "PNEUMO", .port = 11112}, sink);
//   ...
//   (*scp)->Stop();   // or let it go out of scope
//
// DCMTK's SCP pool runs one thread per association, up to max_associations at once (further
// requests are rejected with "local limit exceeded"). A dataset that cannot be parsed or lacks its
// SOP Instance UID is answered 0xC000 (cannot understand); the association carries on.
// Limitation: DCMTK 3.6.7 listens on every interface; the host part of --dicom-listen is only
// informational, so restrict the port with a firewall where that matters.
// Thread-safe: Start and Stop from one thread; the sink is called from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/error.h"

namespace pneumo::dicom {

struct IncomingInstance {
  std::span<const std::uint8_t> part10;  // the instance with a file meta header
  std::string calling_ae_title;          // who sent it ("" for STOW-RS)
};

// DIMSE C-STORE response statuses a sink may give.
enum class StoreStatus : std::uint16_t {
  kSuccess = 0x0000,           // stored (also for instances acknowledged but not eligible)
  kOutOfResources = 0xA700,    // try again later (e.g. pneumo's queue is full)
  kCannotUnderstand = 0xC000,  // the dataset is damaged or not an image pneumo can read
  kProcessingFailure = 0x0110,
};

// Implementations must be thread-safe: associations run in parallel.
class InstanceSink {
 public:
  virtual ~InstanceSink() = default;
  virtual StoreStatus Store(const IncomingInstance& instance) = 0;
};

struct ScpOptions {
  std::string ae_title = "PNEUMO";         // called AE title accepted (others are refused)
  int port = 11112;                        // 1..65535
  int max_associations = 4;                // associations served at once
  std::chrono::seconds acse_timeout{30};   // association negotiation and release
  std::chrono::seconds dimse_timeout{60};  // waiting for the next message of an association
  std::uint32_t max_pdu_bytes = 65536;     // largest PDU received (4096..131072)
};

class StorageScp {
 public:
  // Listens before returning: kUnavailable when the port is taken, kInvalidArgument for bad
  // options (AE title empty or over 16 characters, port, PDU size, limits).
  static Result<std::unique_ptr<StorageScp>> Start(const ScpOptions& options, InstanceSink& sink);
  ~StorageScp();  // Stop()
  StorageScp(const StorageScp&) = delete;
  StorageScp& operator=(const StorageScp&) = delete;

  // Stops accepting, waits for running associations to end (up to the DIMSE timeout). Idempotent.
  void Stop();
  int port() const;

 private:
  struct Impl;
  explicit StorageScp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pneumo::dicom
