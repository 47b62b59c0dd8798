#include "dicom/storage_scp.h"

#include <arpa/inet.h>
#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scppool.h>
#include <dcmtk/dcmnet/scpthrd.h>
#include <dcmtk/oflog/oflog.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/logging.h"
#include "dicom/part10.h"

namespace pneumo::dicom {
namespace {

// Transfer syntaxes accepted for storage, preferred first. The compressed ones are those
// src/image/dicom.cc decodes.
const OFList<OFString>& StorageSyntaxes() {
  static const OFList<OFString> syntaxes = [] {
    OFList<OFString> list;
    for (const char* uid :
         {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
          UID_BigEndianExplicitTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
          UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
          UID_JPEGProcess14SV1TransferSyntax, UID_JPEGProcess14TransferSyntax,
          UID_JPEGLSLosslessTransferSyntax, UID_JPEGLSLossyTransferSyntax,
          UID_RLELosslessTransferSyntax}) {
      list.emplace_back(uid);
    }
    return list;
  }();
  return syntaxes;
}

// One association. DCMTK's pool creates workers with a fixed constructor, hence the sink and AE
// title arrive through the pool (Pool::sink_), read once per worker.
class Worker;

class Pool : public DcmBaseSCPPool {
 public:
  Pool(InstanceSink& sink, std::string ae_title) : sink_(sink), ae_title_(std::move(ae_title)) {}
  InstanceSink& sink() { return sink_; }
  const std::string& ae_title() const { return ae_title_; }

 private:
  // DCMTK owns and deletes the worker (the pool's API hands out raw pointers).
  DcmBaseSCPWorker* createSCPWorker() override;
  InstanceSink& sink_;
  const std::string ae_title_;
};

class Worker : public DcmBaseSCPPool::DcmBaseSCPWorker, public DcmThreadSCP {
 public:
  explicit Worker(Pool& pool) : DcmBaseSCPWorker(pool), pool_(pool) {}

  OFCondition setSharedConfig(const DcmSharedSCPConfig& config) override {
    return DcmThreadSCP::setSharedConfig(config);
  }
  OFBool busy() override { return DcmThreadSCP::isConnected(); }
  OFCondition workerListen(T_ASC_Association* const assoc) override {
    return DcmThreadSCP::run(assoc);
  }

 protected:
  OFBool checkCalledAETitleAccepted(const OFString& called) override {
    return OFString(pool_.ae_title().c_str()) == called;
  }

  OFCondition handleIncomingCommand(T_DIMSE_Message* message,
                                    const DcmPresentationContextInfo& context) override {
    if (message->CommandField != DIMSE_C_STORE_RQ)
      return DcmThreadSCP::handleIncomingCommand(message, context);  // C-ECHO and refusals
    T_DIMSE_C_StoreRQ& request = message->msg.CStoreRQ;
    DcmDataset* received = nullptr;
    const OFCondition read = receiveSTORERequest(request, context.presentationContextID, received);
    std::unique_ptr<DcmDataset> dataset(received);
    if (read.bad()) {
      spdlog::warn("event=dicom_store_unreadable calling_ae={} error=\"{}\"",
                   getPeerAETitle().c_str(), read.text());
      // The stream may be broken; answering is best effort, the association ends either way.
      sendSTOREResponse(context.presentationContextID, request,
                        static_cast<Uint16>(StoreStatus::kCannotUnderstand));
      return read;
    }
    return sendSTOREResponse(context.presentationContextID, request,
                             static_cast<Uint16>(Handle(*dataset, request, context)));
  }

 private:
  StoreStatus Handle(DcmDataset& dataset, const T_DIMSE_C_StoreRQ& request,
                     const DcmPresentationContextInfo& context) {
    try {
      OFString instance_uid;
      if (dataset.findAndGetOFString(DCM_SOPInstanceUID, instance_uid).bad() ||
          instance_uid.empty() || instance_uid != request.AffectedSOPInstanceUID) {
        spdlog::warn(
            "event=dicom_store_refused reason=\"SOP Instance UID missing or not the one "
            "announced\" calling_ae={}",
            getPeerAETitle().c_str());
        return StoreStatus::kCannotUnderstand;
      }
      const E_TransferSyntax xfer = DcmXfer(context.acceptedTransferSyntax.c_str()).getXfer();
      auto bytes = WritePart10(dataset, xfer == EXS_Unknown ? EXS_LittleEndianExplicit : xfer);
      if (!bytes) {
        spdlog::warn("event=dicom_store_refused reason=\"{}\"", bytes.error().message);
        return StoreStatus::kCannotUnderstand;
      }
      return pool_.sink().Store(
          IncomingInstance{.part10 = *bytes, .calling_ae_title = getPeerAETitle().c_str()});
    } catch (const std::exception& e) {
      spdlog::error("event=dicom_store_failed error=\"{}\"", e.what());
      return StoreStatus::kProcessingFailure;
    }
  }

  Pool& pool_;
};

DcmBaseSCPPool::DcmBaseSCPWorker* Pool::createSCPWorker() { return new Worker(*this); }

// DCMTK binds inside its listener thread, where a taken port would only show as a log line; a
// trial bind gives the caller a clear error instead.
Result<void> CheckPortFree(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Fail(ErrorCode::kUnavailable, "cannot create a socket");
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  if (!bound) {
    return Fail(ErrorCode::kUnavailable,
                "DICOM port " + std::to_string(port) + " is already in use (or not permitted)");
  }
  return {};
}

// Whether something listens on TCP `port`, from the kernel's socket tables: probing with a
// connection would itself be an association attempt for DCMTK to handle.
bool Listening(int port) {
  char hex[8];
  std::snprintf(hex, sizeof hex, ":%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (state == "0A" && local.ends_with(hex)) return true;
    }
  }
  return false;
}

}  // namespace

struct StorageScp::Impl {
  Impl(InstanceSink& sink, const ScpOptions& o) : options(o), pool(sink, o.ae_title) {}
  ScpOptions options;
  Pool pool;
  std::thread listener;
  bool stopped = false;
};

StorageScp::StorageScp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StorageScp::~StorageScp() { Stop(); }
int StorageScp::port() const { return impl_->options.port; }

Result<std::unique_ptr<StorageScp>> StorageScp::Start(const ScpOptions& options,
                                                      InstanceSink& sink) {
  if (options.ae_title.empty() || options.ae_title.size() > 16 ||
      options.ae_title.find('\\') != std::string::npos) {
    return Fail(ErrorCode::kInvalidArgument,
                "DICOM AE title must be 1 to 16 characters without a backslash");
  }
  if (options.port < 1 || options.port > 65535)
    return Fail(ErrorCode::kInvalidArgument, "DICOM port must be 1..65535");
  if (options.max_associations < 1 || options.max_associations > 1000)
    return Fail(ErrorCode::kInvalidArgument, "DICOM max associations must be 1..1000");
  if (options.max_pdu_bytes < ASC_MINIMUMPDUSIZE || options.max_pdu_bytes > ASC_MAXIMUMPDUSIZE)
    return Fail(ErrorCode::kInvalidArgument, "DICOM max PDU size must be " +
                                                 std::to_string(ASC_MINIMUMPDUSIZE) + ".." +
                                                 std::to_string(ASC_MAXIMUMPDUSIZE) + " bytes");
  if (options.acse_timeout.count() < 1 || options.dimse_timeout.count() < 1)
    return Fail(ErrorCode::kInvalidArgument, "DICOM timeouts must be at least 1 s");
  // Everything DCMTK would say reaches the caller as statuses and log lines of our own.
  OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
  if (auto free = CheckPortFree(options.port); !free) return std::unexpected(free.error());

  auto impl = std::make_unique<Impl>(sink, options);
  DcmSCPConfig& config = impl->pool.getConfig();
  config.setAETitle(options.ae_title.c_str());
  config.setPort(static_cast<Uint16>(options.port));
  config.setMaxReceivePDULength(options.max_pdu_bytes);
  config.setACSETimeout(static_cast<Uint32>(options.acse_timeout.count()));
  config.setDIMSETimeout(static_cast<Uint32>(options.dimse_timeout.count()));
  config.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  // Wake the listener every second so Stop() takes effect without a connection arriving.
  config.setConnectionBlockingMode(DUL_NOBLOCK);
  config.setConnectionTimeout(1);
  config.setHostLookupEnabled(OFFalse);
  OFList<OFString> verification_syntaxes;
  verification_syntaxes.emplace_back(UID_LittleEndianExplicitTransferSyntax);
  verification_syntaxes.emplace_back(UID_LittleEndianImplicitTransferSyntax);
  if (OFCondition ok = config.addPresentationContext(UID_VerificationSOPClass,
                                                     verification_syntaxes, ASC_SC_ROLE_DEFAULT);
      ok.bad()) {
    return Fail(ErrorCode::kInternal, std::string("DICOM SCP set-up: ") + ok.text());
  }
  // DCMTK's SCP keeps at most 128 abstract syntaxes; its "long SCU" list holds the storage classes
  // that are sent in practice (CR, DX, SC, CT, MR, US, ...), so other modalities' instances are
  // still accepted and logged as not eligible instead of being refused at association time.
  for (int i = 0; i < numberOfDcmLongSCUStorageSOPClassUIDs; ++i) {
    if (OFCondition ok = config.addPresentationContext(dcmLongSCUStorageSOPClassUIDs[i],
                                                       StorageSyntaxes(), ASC_SC_ROLE_DEFAULT);
        ok.bad()) {
      return Fail(ErrorCode::kInternal, std::string("DICOM SCP set-up: ") + ok.text());
    }
  }
  impl->pool.setMaxThreads(static_cast<Uint16>(options.max_associations));
  Pool& pool = impl->pool;
  impl->listener = std::thread([&pool, port = options.port] {
    const OFCondition result = pool.listen();
    if (result.bad() && result != DUL_NOASSOCIATIONREQUEST) {
      spdlog::error("event=dicom_listener_stopped port={} error=\"{}\"", port, result.text());
    }
  });
  // listen() binds inside its thread; return only once the port accepts connections.
  for (int i = 0; i < 200 && !Listening(options.port); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  spdlog::info("event=dicom_listen ae_title={} port={} max_associations={} max_pdu={}",
               options.ae_title, options.port, options.max_associations, options.max_pdu_bytes);
  return std::unique_ptr<StorageScp>(new StorageScp(std::move(impl)));
}

void StorageScp::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->pool.stopAfterCurrentAssociations();
  if (impl_->listener.joinable()) impl_->listener.join();
}

}  // namespace pneumo::dicom
