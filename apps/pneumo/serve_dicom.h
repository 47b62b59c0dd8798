// The DICOM side of `pneumo serve`: its flags, and the node, listener and send queue they ask for.
// Kept apart from serve_command.cc so the HTTP flags and the DICOM flags can change separately.
//
//   DicomArgs dicom;  AddDicomOptions(*cmd, dicom);
//   auto running = StartDicom(dicom, service, registry, data_dir);   // after the service exists
//   ... (*running)->node ... ; running->reset() stops the listener, then the queue.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "core/error.h"
#include "dicom/dicom_node.h"
#include "dicom/send_queue.h"
#include "dicom/storage_scp.h"
#include "metrics/registry.h"
#include "serving/prediction_service.h"

namespace pneumo::app {

struct DicomArgs {
  std::string listen;  // HOST:PORT; empty: no DICOM listener (the default)
  std::string ae_title = dicom::ScpOptions{}.ae_title;
  int max_associations = dicom::ScpOptions{}.max_associations;
  int acse_timeout_s = static_cast<int>(dicom::ScpOptions{}.acse_timeout.count());
  int dimse_timeout_s = static_cast<int>(dicom::ScpOptions{}.dimse_timeout.count());
  std::uint32_t max_pdu = dicom::ScpOptions{}.max_pdu_bytes;
  std::string destination;      // AE@HOST:PORT; empty: results are not sent
  std::filesystem::path spool;  // default: <data dir>/dicom-spool
  int retry_initial_ms = static_cast<int>(dicom::SendOptions{}.initial_backoff.count());
  int retry_max_ms = static_cast<int>(dicom::SendOptions{}.max_backoff.count());
  std::string device_uid;  // default: dicom::DefaultDeviceUid()
};

void AddDicomOptions(CLI::App& cmd, DicomArgs& args);

// Declared in stopping order: the listener first (no new instances), then the node, then the
// queue (the attempt in flight finishes).
struct DicomRuntime {
  std::unique_ptr<dicom::SendQueue> queue;  // null without --dicom-destination
  std::unique_ptr<dicom::DicomNode> node;   // always: STOW-RS and the SR route use it
  std::unique_ptr<dicom::StorageScp> scp;   // null without --dicom-listen
  ~DicomRuntime() {
    scp.reset();
    node.reset();
    queue.reset();
  }
};

Result<std::unique_ptr<DicomRuntime>> StartDicom(const DicomArgs& args,
                                                 serving::PredictionService& service,
                                                 metrics::Registry& registry,
                                                 const std::filesystem::path& data_dir);

}  // namespace pneumo::app
