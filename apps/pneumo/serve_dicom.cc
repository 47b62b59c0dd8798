#include "apps/pneumo/serve_dicom.h"

#include "core/logging.h"

namespace pneumo::app {

void AddDicomOptions(CLI::App& cmd, DicomArgs& args) {
  cmd.add_option("--dicom-listen", args.listen,
                 "Run a DICOM C-STORE SCP on HOST:PORT (off unless given; DCMTK listens on all "
                 "interfaces)");
  cmd.add_option("--dicom-ae-title", args.ae_title,
                 "pneumo's AE title: called title accepted, calling title when sending")
      ->capture_default_str();
  cmd.add_option("--dicom-max-associations", args.max_associations,
                 "DICOM associations served at once; more are rejected")
      ->capture_default_str();
  cmd.add_option("--dicom-acse-timeout-s", args.acse_timeout_s,
                 "DICOM association negotiation/release timeout")
      ->capture_default_str();
  cmd.add_option("--dicom-dimse-timeout-s", args.dimse_timeout_s,
                 "DICOM message timeout within an association")
      ->capture_default_str();
  cmd.add_option("--dicom-max-pdu", args.max_pdu, "Largest DICOM PDU received, in bytes")
      ->capture_default_str();
  cmd.add_option("--dicom-destination", args.destination,
                 "Send results (SR and heatmap Secondary Capture) by C-STORE to AE@HOST:PORT");
  cmd.add_option("--dicom-spool", args.spool,
                 "Durable queue of results to send (default: <data dir>/dicom-spool)");
  cmd.add_option("--dicom-retry-initial-ms", args.retry_initial_ms,
                 "Wait after the first failed send; doubles each time")
      ->capture_default_str();
  cmd.add_option("--dicom-retry-max-ms", args.retry_max_ms, "Longest wait between send attempts")
      ->capture_default_str();
  cmd.add_option("--dicom-device-uid", args.device_uid,
                 "Device Observer UID written into SRs (default: a fixed UID for pneumo)");
}

Result<std::unique_ptr<DicomRuntime>> StartDicom(const DicomArgs& args,
                                                 serving::PredictionService& service,
                                                 metrics::Registry& registry,
                                                 const std::filesystem::path& data_dir) {
  auto runtime = std::make_unique<DicomRuntime>();
  if (!args.destination.empty()) {
    auto destination = dicom::ParseDestination(args.destination);
    if (!destination) return std::unexpected(destination.error());
    if (args.retry_initial_ms < 1 || args.retry_max_ms < args.retry_initial_ms)
      return Fail(ErrorCode::kInvalidArgument,
                  "--dicom-retry-initial-ms must be >= 1 and <= --dicom-retry-max-ms");
    dicom::SendOptions send;
    send.calling_ae_title = args.ae_title;
    send.acse_timeout = std::chrono::seconds(args.acse_timeout_s);
    send.dimse_timeout = std::chrono::seconds(args.dimse_timeout_s);
    send.initial_backoff = std::chrono::milliseconds(args.retry_initial_ms);
    send.max_backoff = std::chrono::milliseconds(args.retry_max_ms);
    auto queue = dicom::SendQueue::Open(args.spool.empty() ? data_dir / "dicom-spool" : args.spool,
                                        *destination, send, registry);
    if (!queue) return std::unexpected(queue.error());
    runtime->queue = std::move(*queue);
  }
  dicom::NodeOptions node_options;
  node_options.results.device_uid = args.device_uid;
  runtime->node = std::make_unique<dicom::DicomNode>(dicom::DicomNode::BackendOf(service),
                                                     runtime->queue.get(), node_options, registry);
  if (!args.listen.empty()) {
    const auto colon = args.listen.rfind(':');
    int port = 0;
    try {
      std::size_t used = 0;
      if (colon == std::string::npos) throw std::invalid_argument("no port");
      port = std::stoi(args.listen.substr(colon + 1), &used);
      if (used != args.listen.size() - colon - 1) throw std::invalid_argument("port");
    } catch (const std::exception&) {
      return Fail(
          ErrorCode::kInvalidArgument,
          "--dicom-listen must be HOST:PORT, e.g. 0.0.0.0:11112, not '" + args.listen + "'");
    }
    auto scp =
        dicom::StorageScp::Start({.ae_title = args.ae_title,
                                  .port = port,
                                  .max_associations = args.max_associations,
                                  .acse_timeout = std::chrono::seconds(args.acse_timeout_s),
                                  .dimse_timeout = std::chrono::seconds(args.dimse_timeout_s),
                                  .max_pdu_bytes = args.max_pdu},
                                 *runtime->node);
    if (!scp) return std::unexpected(scp.error());
    runtime->scp = std::move(*scp);
  }
  if (runtime->scp || runtime->queue) {
    std::printf(
        "pneumo serve: DICOM %s%s%s\n",
        runtime->scp
            ? ("listening as " + args.ae_title + " on port " + std::to_string(runtime->scp->port()))
                  .c_str()
            : "",
        runtime->scp && runtime->queue ? ", " : "",
        runtime->queue ? ("sending to " + runtime->queue->destination().ToString()).c_str() : "");
    std::fflush(stdout);
  }
  return runtime;
}

}  // namespace pneumo::app
