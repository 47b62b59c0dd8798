// What pneumo does with a DICOM instance that reaches it, by C-STORE or STOW-RS: judge it from its
// header, predict it through the same PredictionService as an upload, log what became of it in
// the store, and queue the results (SR and Secondary Capture) for the PACS.
//
//   DicomNode node(DicomNode::BackendOf(service), queue.get(), {}, registry);
//   auto scp = StorageScp::Start(scp_options, node);          // C-STORE lands in node.Store
//   ReceiveOutcome o = node.Receive(bytes, "stow-rs");       // STOW-RS, one instance
//   Result<std::vector<std::uint8_t>> sr = node.StructuredReport(prediction_id);
//
// Statuses: not eligible -> success (acknowledged, logged "not_eligible" with the reason);
// unreadable -> 0xC000; pneumo busy, timed out or store down -> 0xA700 (the sender retries);
// model failure -> 0x0110. The heatmap for the Secondary Capture is rendered on the receiving
// thread, after the prediction is stored, so a C-STORE answer waits for it (about a second on CPU).
// Thread-safe: Receive/Store are called by several association threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dicom/result_objects.h"
#include "dicom/send_queue.h"
#include "dicom/storage_scp.h"
#include "metrics/registry.h"
#include "serving/prediction_service.h"
#include "store/result_store.h"

namespace pneumo::dicom {

// The parts of the prediction service the node uses; a struct of functions so the node can be
// tested with a small stand-in model.
struct NodeBackend {
  std::function<Result<store::PredictionRecord>(std::span<const std::uint8_t>, std::string_view)>
      predict;
  std::function<Result<std::vector<std::uint8_t>>(std::string_view)> heatmap;  // overlay PNG
  store::ResultStore* store = nullptr;
};

struct NodeOptions {
  ResultObjectOptions results;
  bool send_structured_report = true;
  bool send_secondary_capture = true;
};

struct ReceiveOutcome {
  StoreStatus status = StoreStatus::kSuccess;
  store::ReceivedInstance logged;  // what went into the received-instances log
};

class DicomNode final : public InstanceSink {
 public:
  static NodeBackend BackendOf(serving::PredictionService& service);

  // `queue` may be null (no --dicom-destination): results are then only built on request.
  DicomNode(NodeBackend backend, SendQueue* queue, NodeOptions options,
            metrics::Registry& registry);

  StoreStatus Store(const IncomingInstance& instance) override;
  // `source` is logged: "c-store from <AE>" or "stow-rs".
  ReceiveOutcome Receive(std::span<const std::uint8_t> part10, std::string source);

  // The SR of a stored prediction (the same instance that was sent). kNotFound for an unknown id,
  // kInvalidArgument when it was not made from DICOM, kUnavailable when the store is down.
  Result<std::vector<std::uint8_t>> StructuredReport(std::string_view prediction_id);

  // Send states of one prediction's results (empty without a destination).
  std::vector<SendState> SendsFor(std::string_view prediction_id) const;
  const SendQueue* queue() const { return queue_; }

 private:
  void QueueResults(const store::PredictionRecord& record);
  void Log(store::ReceivedInstance& entry);

  NodeBackend backend_;
  SendQueue* queue_;
  const NodeOptions options_;
  metrics::Counter& predicted_;
  metrics::Counter& not_eligible_;
  metrics::Counter& failed_;
};

}  // namespace pneumo::dicom
