#include "dicom/dicom_node.h"

#include "core/logging.h"
#include "dicom/eligibility.h"
#include "image/dicom_attributes.h"
#include "serving/prediction_id.h"

namespace pneumo::dicom {
namespace {

StoreStatus StatusOf(const Error& error) {
  switch (error.code) {
    case ErrorCode::kEmptyInput:
    case ErrorCode::kUnsupportedFormat:
    case ErrorCode::kCorruptInput:
    case ErrorCode::kImageTooLarge:
    case ErrorCode::kInvalidDimensions:
    case ErrorCode::kInvalidArgument:
      return StoreStatus::kCannotUnderstand;
    case ErrorCode::kBusy:
    case ErrorCode::kTimeout:
    case ErrorCode::kUnavailable:
      return StoreStatus::kOutOfResources;  // the sender retries later
    default:
      return StoreStatus::kProcessingFailure;
  }
}

}  // namespace

NodeBackend DicomNode::BackendOf(serving::PredictionService& service) {
  return NodeBackend{
      .predict = [&service](std::span<const std::uint8_t> bytes,
                            std::string_view name) { return service.Predict(bytes, name); },
      .heatmap = [&service](std::string_view id) { return service.Heatmap(id); },
      .store = &service.store()};
}

DicomNode::DicomNode(NodeBackend backend, SendQueue* queue, NodeOptions options,
                     metrics::Registry& registry)
    : backend_(std::move(backend)),
      queue_(queue),
      options_(std::move(options)),
      predicted_(registry.AddCounter("pneumo_dicom_instances_received_total",
                                     "DICOM instances received (C-STORE and STOW-RS), by outcome",
                                     {{"outcome", "predicted"}})),
      not_eligible_(
          registry.AddCounter("pneumo_dicom_instances_received_total",
                              "DICOM instances received (C-STORE and STOW-RS), by outcome",
                              {{"outcome", "not_eligible"}})),
      failed_(registry.AddCounter("pneumo_dicom_instances_received_total",
                                  "DICOM instances received (C-STORE and STOW-RS), by outcome",
                                  {{"outcome", "failed"}})) {}

StoreStatus DicomNode::Store(const IncomingInstance& instance) {
  return Receive(instance.part10, "c-store from " + instance.calling_ae_title).status;
}

void DicomNode::Log(store::ReceivedInstance& entry) {
  entry.received_at_ms = serving::NowUnixMs();
  entry.received_at = serving::IsoUtc(entry.received_at_ms);
  if (entry.outcome == "predicted")
    predicted_.Increment();
  else if (entry.outcome == "not_eligible")
    not_eligible_.Increment();
  else
    failed_.Increment();
  // Identifiers only; no patient attributes in the log line.
  spdlog::info(
      "event=dicom_received source=\"{}\" outcome={} modality={} prediction_id={} "
      "reason=\"{}\"",
      entry.source, entry.outcome, entry.modality, entry.prediction_id, entry.reason);
  if (entry.sop_instance_uid.empty() || !backend_.store) return;
  if (auto logged = backend_.store->LogReceived(entry); !logged)
    spdlog::warn("event=dicom_receive_log_failed error=\"{}\"", logged.error().message);
}

ReceiveOutcome DicomNode::Receive(std::span<const std::uint8_t> part10, std::string source) {
  ReceiveOutcome outcome;
  store::ReceivedInstance& entry = outcome.logged;
  entry.source = std::move(source);
  auto attributes = image::ReadDicomAttributes(part10);
  if (!attributes) {
    entry.outcome = "failed";
    entry.reason = attributes.error().message;
    outcome.status = StoreStatus::kCannotUnderstand;
    Log(entry);
    return outcome;
  }
  entry.study_instance_uid = attributes->study_instance_uid;
  entry.series_instance_uid = attributes->series_instance_uid;
  entry.sop_instance_uid = attributes->sop_instance_uid;
  entry.sop_class_uid = attributes->sop_class_uid;
  entry.accession_number = attributes->accession_number;
  entry.modality = attributes->modality;
  if (attributes->sop_instance_uid.empty()) {
    entry.outcome = "failed";
    entry.reason = "the instance has no SOP Instance UID";
    outcome.status = StoreStatus::kCannotUnderstand;
    Log(entry);
    return outcome;
  }
  if (const Eligibility eligibility = CheckEligibility(*attributes); !eligibility.eligible) {
    entry.outcome = "not_eligible";
    entry.reason = eligibility.reason;
    Log(entry);
    return outcome;  // acknowledged: the PACS has nothing to resend
  }
  // The SOP Instance UID names the upload: it identifies the image without saying whose it is.
  auto predicted = backend_.predict(part10, attributes->sop_instance_uid + ".dcm");
  if (!predicted) {
    entry.outcome = "failed";
    entry.reason = predicted.error().message;
    outcome.status = StatusOf(predicted.error());
    Log(entry);
    return outcome;
  }
  entry.outcome = "predicted";
  entry.prediction_id = predicted->id;
  Log(entry);
  QueueResults(*predicted);
  return outcome;
}

void DicomNode::QueueResults(const store::PredictionRecord& record) {
  if (!queue_) return;
  if (options_.send_structured_report) {
    auto sr = MakeStructuredReport(record, options_.results);
    if (!sr) {
      spdlog::error("event=dicom_sr_failed prediction_id={} error=\"{}\"", record.id,
                    sr.error().message);
    } else if (auto queued = queue_->Enqueue(sr->bytes, {.prediction_id = record.id,
                                                         .kind = "sr",
                                                         .sop_instance_uid = sr->sop_instance_uid});
               !queued) {
      spdlog::error("event=dicom_queue_failed prediction_id={} error=\"{}\"", record.id,
                    queued.error().message);
    }
  }
  if (options_.send_secondary_capture && backend_.heatmap) {
    auto png = backend_.heatmap(record.id);
    auto sc = png ? MakeSecondaryCapture(record, *png, options_.results)
                  : Result<ResultObject>(std::unexpected(png.error()));
    if (!sc) {
      spdlog::error("event=dicom_sc_failed prediction_id={} error=\"{}\"", record.id,
                    sc.error().message);
    } else if (auto queued = queue_->Enqueue(sc->bytes, {.prediction_id = record.id,
                                                         .kind = "sc",
                                                         .sop_instance_uid = sc->sop_instance_uid});
               !queued) {
      spdlog::error("event=dicom_queue_failed prediction_id={} error=\"{}\"", record.id,
                    queued.error().message);
    }
  }
}

Result<std::vector<std::uint8_t>> DicomNode::StructuredReport(std::string_view prediction_id) {
  if (!backend_.store) return Fail(ErrorCode::kUnavailable, "no result store");
  auto record = backend_.store->Get(prediction_id);
  if (!record) return std::unexpected(record.error());
  auto sr = MakeStructuredReport(*record, options_.results);
  if (!sr) return std::unexpected(sr.error());
  return std::move(sr->bytes);
}

std::vector<SendState> DicomNode::SendsFor(std::string_view prediction_id) const {
  return queue_ ? queue_->ForPrediction(prediction_id) : std::vector<SendState>{};
}

}  // namespace pneumo::dicom
