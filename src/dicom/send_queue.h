// Results on their way to the PACS: a durable queue of DICOM instances sent by C-STORE, retried
// with exponential back-off while the destination is down.
//
//   auto queue = SendQueue::Open("/var/lib/pneumo/dicom-spool", *ParseDestination("PACS@pacs:104"),
//                                {}, registry);
//   (*queue)->Enqueue(sr.bytes, {.prediction_id = id, .kind = "sr", .sop_instance_uid = uid});
//   std::vector<SendState> states = (*queue)->ForPrediction(id);
//
// Spool layout (one entry = one instance; every file is written to tmp/ and renamed into place,
// with fsync, so a crash leaves either the whole entry or none):
//   pending/<id>.dcm + pending/<id>.json   waiting or being retried (the .json is written last)
//   sent/<id>.json                         delivered (the instance itself is dropped; the newest
//                                          1000 are kept)
//   failed/<id>.dcm + failed/<id>.json     refused by the destination with a failure status;
//                                          move both back to pending/ to retry after a fix
// A restart reloads pending/ and carries on where it stopped, so nothing is lost.
// Metrics: pneumo_dicom_sends_total{outcome="sent"|"retry"|"failed"},
//          pneumo_dicom_send_queue_depth.
// Thread-safe: every method may be called from any thread; one worker thread sends, one instance
// at a time, oldest due first.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "metrics/registry.h"

namespace pneumo::dicom {

struct Destination {
  std::string ae_title;  // the peer's (called) AE title
  std::string host;
  int port = 104;
  std::string ToString() const { return ae_title + "@" + host + ":" + std::to_string(port); }
};

// "AE@HOST:PORT". kInvalidArgument naming what is wrong.
Result<Destination> ParseDestination(std::string_view text);

struct SendOptions {
  std::string calling_ae_title = "PNEUMO";
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds acse_timeout{30};
  std::chrono::seconds dimse_timeout{60};
  std::uint32_t max_pdu_bytes = 65536;
  std::chrono::milliseconds initial_backoff{1000};  // wait after the first failed attempt
  std::chrono::milliseconds max_backoff{300000};    // the doubling stops here (5 min)
};

struct SendState {
  std::string id;  // spool entry name: "<prediction id>-<kind>"
  std::string prediction_id;
  std::string kind;  // "sr" or "sc"
  std::string sop_instance_uid;
  std::string state = "pending";  // "pending", "sent" or "failed"
  int attempts = 0;
  std::string last_error;            // of the latest failed attempt; empty when none failed
  std::int64_t queued_at_ms = 0;     // Unix milliseconds
  std::int64_t next_attempt_ms = 0;  // pending only
  std::int64_t sent_at_ms = 0;       // sent only
};

struct SendRequest {
  std::string prediction_id;
  std::string kind;
  std::string sop_instance_uid;
};

// One C-STORE association to `destination` carrying `part10`. kUnavailable for what may pass
// (no connection, association refused or aborted, 0xA7xx out of resources); kInvalidArgument when
// the destination answered with another failure status (retrying would give the same answer).
Result<void> SendInstance(const Destination& destination, std::span<const std::uint8_t> part10,
                          const SendOptions& options);

class SendQueue {
 public:
  // Creates the spool directories, reloads pending entries and starts the worker.
  // kIoError when the spool cannot be created or read.
  static Result<std::unique_ptr<SendQueue>> Open(std::filesystem::path spool,
                                                 Destination destination, SendOptions options,
                                                 metrics::Registry& registry);
  ~SendQueue();  // Stop()
  SendQueue(const SendQueue&) = delete;
  SendQueue& operator=(const SendQueue&) = delete;

  // Durable when this returns: written and fsynced into pending/. Re-enqueueing an id that is
  // pending replaces it. kInvalidArgument for an empty request, kIoError when the disk fails.
  Result<SendState> Enqueue(std::span<const std::uint8_t> part10, const SendRequest& request);

  std::vector<SendState> ForPrediction(std::string_view prediction_id) const;
  std::vector<SendState> List() const;  // every entry this process knows, newest first
  std::size_t depth() const;            // pending entries
  const Destination& destination() const { return destination_; }

  // Finishes the attempt in flight (if any) and stops the worker. Idempotent.
  void Stop();

 private:
  SendQueue(std::filesystem::path spool, Destination destination, SendOptions options,
            metrics::Registry& registry);
  Result<void> Load();
  void Run(const std::stop_token& stop);
  void Attempt(const std::string& id);
  Result<void> WriteState(const std::filesystem::path& dir, const SendState& state);
  std::chrono::milliseconds Backoff(int attempts) const;
  void PruneSent();  // REQUIRES: mu_ held
  static constexpr std::size_t kKeptSent = 1000;

  const std::filesystem::path spool_;
  const Destination destination_;
  const SendOptions options_;
  metrics::Counter& sent_;
  metrics::Counter& retried_;
  metrics::Counter& failed_;
  metrics::Gauge& depth_gauge_;

  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  std::map<std::string, SendState> states_;  // GUARDED_BY(mu_)
  std::uint64_t enqueued_ = 0;               // GUARDED_BY(mu_); wakes the worker
  std::jthread worker_;                      // last: stopped first
};

}  // namespace pneumo::dicom
