#include "dicom/send_queue.h"

#include <dcmtk/config/osconfig.h>  // DCMTK requires it before its other headers
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmnet/scu.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/logging.h"
#include "dicom/part10.h"

namespace pneumo::dicom {
namespace fs = std::filesystem;
namespace {

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Writes `bytes` to dir/name through dir/../tmp, fsyncing the file and the directory, so the
// entry appears whole or not at all.
Result<void> WriteAtomically(const fs::path& dir, const std::string& name,
                             std::span<const std::uint8_t> bytes) {
  const fs::path tmp = dir.parent_path() / "tmp" / (name + ".part");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Fail(ErrorCode::kIoError, "cannot write " + tmp.string());
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      ::close(fd);
      return Fail(ErrorCode::kIoError, "cannot write " + tmp.string() + " (disk full?)");
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return Fail(ErrorCode::kIoError, "cannot fsync " + tmp.string());
  std::error_code ec;
  fs::rename(tmp, dir / name, ec);
  if (ec) return Fail(ErrorCode::kIoError, "cannot move " + tmp.string() + ": " + ec.message());
  if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<std::vector<std::uint8_t>> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kIoError, "cannot read " + path.string());
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), {});
}

nlohmann::json ToJson(const SendState& s) {
  return {{"id", s.id},
          {"prediction_id", s.prediction_id},
          {"kind", s.kind},
          {"sop_instance_uid", s.sop_instance_uid},
          {"state", s.state},
          {"attempts", s.attempts},
          {"last_error", s.last_error},
          {"queued_at_ms", s.queued_at_ms},
          {"next_attempt_ms", s.next_attempt_ms},
          {"sent_at_ms", s.sent_at_ms}};
}

SendState FromJson(const nlohmann::json& j) {
  SendState s;
  s.id = j.value("id", "");
  s.prediction_id = j.value("prediction_id", "");
  s.kind = j.value("kind", "");
  s.sop_instance_uid = j.value("sop_instance_uid", "");
  s.state = j.value("state", "pending");
  s.attempts = j.value("attempts", 0);
  s.last_error = j.value("last_error", "");
  s.queued_at_ms = j.value("queued_at_ms", std::int64_t{0});
  s.next_attempt_ms = j.value("next_attempt_ms", std::int64_t{0});
  s.sent_at_ms = j.value("sent_at_ms", std::int64_t{0});
  return s;
}

bool SafeName(std::string_view id) {
  return !id.empty() && id.size() <= 200 && std::ranges::all_of(id, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  }) && id.front() != '.';
}

}  // namespace

Result<Destination> ParseDestination(std::string_view text) {
  const auto at = text.find('@');
  const auto colon = text.rfind(':');
  if (at == std::string_view::npos || colon == std::string_view::npos || colon < at) {
    return Fail(ErrorCode::kInvalidArgument,
                "DICOM destination must be AE@HOST:PORT, e.g. ORTHANC@pacs.example:4242");
  }
  Destination d;
  d.ae_title = std::string(text.substr(0, at));
  d.host = std::string(text.substr(at + 1, colon - at - 1));
  const std::string_view port = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), d.port);
  if (ec != std::errc() || end != port.data() + port.size() || d.port < 1 || d.port > 65535)
    return Fail(ErrorCode::kInvalidArgument, "DICOM destination port must be 1..65535");
  if (d.ae_title.empty() || d.ae_title.size() > 16)
    return Fail(ErrorCode::kInvalidArgument, "DICOM destination AE title must be 1..16 characters");
  if (d.host.empty()) return Fail(ErrorCode::kInvalidArgument, "DICOM destination has no host");
  return d;
}

Result<void> SendInstance(const Destination& destination, std::span<const std::uint8_t> part10,
                          const SendOptions& options) {
  auto file = ParsePart10(part10);
  if (!file) return Fail(ErrorCode::kInvalidArgument, file.error().message);
  DcmDataset* dataset = (*file)->getDataset();
  OFString sop_class;
  if (dataset->findAndGetOFString(DCM_SOPClassUID, sop_class).bad() || sop_class.empty())
    return Fail(ErrorCode::kInvalidArgument, "the instance has no SOP Class UID");
  const std::string where = destination.ToString();
  DcmSCU scu;
  scu.setAETitle(options.calling_ae_title.c_str());
  scu.setPeerAETitle(destination.ae_title.c_str());
  scu.setPeerHostName(destination.host.c_str());
  scu.setPeerPort(static_cast<Uint16>(destination.port));
  scu.setConnectionTimeout(static_cast<Sint32>(options.connect_timeout.count()));
  scu.setACSETimeout(static_cast<Uint32>(options.acse_timeout.count()));
  scu.setDIMSETimeout(static_cast<Uint32>(options.dimse_timeout.count()));
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  scu.setMaxReceivePDULength(options.max_pdu_bytes);
  OFList<OFString> syntaxes;
  const DcmXfer original(dataset->getOriginalXfer());
  if (original.getXfer() != EXS_Unknown && original.getXfer() != EXS_LittleEndianExplicit &&
      original.getXfer() != EXS_LittleEndianImplicit) {
    syntaxes.emplace_back(original.getXferID());
  }
  syntaxes.emplace_back(UID_LittleEndianExplicitTransferSyntax);
  syntaxes.emplace_back(UID_LittleEndianImplicitTransferSyntax);
  scu.addPresentationContext(sop_class, syntaxes);
  if (OFCondition ok = scu.initNetwork(); ok.bad())
    return Fail(ErrorCode::kUnavailable, "DICOM network set-up failed: " + std::string(ok.text()));
  if (OFCondition ok = scu.negotiateAssociation(); ok.bad()) {
    return Fail(ErrorCode::kUnavailable,
                "no association with " + where + ": " + std::string(ok.text()));
  }
  const T_ASC_PresentationContextID context = scu.findAnyPresentationContextID(sop_class, "");
  if (context == 0) {
    scu.releaseAssociation();
    return Fail(ErrorCode::kInvalidArgument,
                where + " accepts no presentation context for SOP class " + sop_class.c_str());
  }
  Uint16 status = 0;
  const OFCondition sent = scu.sendSTORERequest(context, "", dataset, status);
  if (sent.bad()) {
    scu.abortAssociation();
    return Fail(ErrorCode::kUnavailable, "C-STORE to " + where + " failed: " + sent.text());
  }
  scu.releaseAssociation();
  // 0x0000 success, 0xB000-0xBFFF warnings (stored, with coercion): both are delivered.
  if (status == 0 || (status & 0xF000) == 0xB000) return {};
  char hex[8];
  std::snprintf(hex, sizeof hex, "%04X", status);
  const std::string message = "C-STORE to " + where + " answered status 0x" + hex;
  if ((status & 0xFF00) == 0xA700)
    return Fail(ErrorCode::kUnavailable, message + " (out of resources)");
  return Fail(ErrorCode::kInvalidArgument, message);
}

// Delivered entries are kept for the API and /metrics' sake, the newest kKeptSent of them.
void SendQueue::PruneSent() {
  std::vector<std::pair<std::int64_t, std::string>> sent;
  for (const auto& [id, state] : states_)
    if (state.state == "sent") sent.emplace_back(state.sent_at_ms, id);
  if (sent.size() <= kKeptSent) return;
  std::ranges::sort(sent);
  std::error_code ec;
  for (std::size_t i = 0; i < sent.size() - kKeptSent; ++i) {
    fs::remove(spool_ / "sent" / (sent[i].second + ".json"), ec);
    states_.erase(sent[i].second);
  }
}

SendQueue::SendQueue(fs::path spool, Destination destination, SendOptions options,
                     metrics::Registry& registry)
    : spool_(std::move(spool)),
      destination_(std::move(destination)),
      options_(std::move(options)),
      sent_(registry.AddCounter("pneumo_dicom_sends_total",
                                "DICOM result instances sent to the destination, by outcome",
                                {{"outcome", "sent"}})),
      retried_(registry.AddCounter("pneumo_dicom_sends_total",
                                   "DICOM result instances sent to the destination, by outcome",
                                   {{"outcome", "retry"}})),
      failed_(registry.AddCounter("pneumo_dicom_sends_total",
                                  "DICOM result instances sent to the destination, by outcome",
                                  {{"outcome", "failed"}})),
      depth_gauge_(registry.AddGauge("pneumo_dicom_send_queue_depth",
                                     "DICOM result instances waiting to be sent")) {}

SendQueue::~SendQueue() { Stop(); }

Result<std::unique_ptr<SendQueue>> SendQueue::Open(fs::path spool, Destination destination,
                                                   SendOptions options,
                                                   metrics::Registry& registry) {
  std::error_code ec;
  for (const char* dir : {"pending", "sent", "failed", "tmp"}) {
    fs::create_directories(spool / dir, ec);
    if (ec) {
      return Fail(ErrorCode::kIoError, "cannot create DICOM spool directory " +
                                           (spool / dir).string() + ": " + ec.message());
    }
  }
  std::unique_ptr<SendQueue> queue(
      new SendQueue(std::move(spool), std::move(destination), std::move(options), registry));
  if (auto loaded = queue->Load(); !loaded) return std::unexpected(loaded.error());
  queue->worker_ = std::jthread([q = queue.get()](const std::stop_token& stop) { q->Run(stop); });
  return queue;
}

Result<void> SendQueue::Load() {
  std::lock_guard lock(mu_);
  std::error_code ec;
  fs::remove_all(spool_ / "tmp", ec);  // halves of writes a crash interrupted
  fs::create_directories(spool_ / "tmp", ec);
  for (const char* dir : {"pending", "sent", "failed"}) {
    for (const auto& entry : fs::directory_iterator(spool_ / dir, ec)) {
      if (entry.path().extension() != ".json") continue;
      auto bytes = ReadFile(entry.path());
      if (!bytes) return std::unexpected(bytes.error());
      auto j = nlohmann::json::parse(bytes->begin(), bytes->end(), nullptr, false);
      if (!j.is_object()) {
        spdlog::warn("event=dicom_spool_damaged file={}", entry.path().filename().string());
        continue;
      }
      SendState state = FromJson(j);
      state.id = entry.path().stem().string();
      state.state = dir == std::string("pending") ? "pending" : state.state;
      if (state.state == "pending" && !fs::exists(spool_ / dir / (state.id + ".dcm"))) continue;
      if (state.state == "pending") state.next_attempt_ms = 0;  // try at once after a restart
      states_[state.id] = std::move(state);
    }
    if (ec) return Fail(ErrorCode::kIoError, "cannot read DICOM spool " + spool_.string());
  }
  PruneSent();
  const auto pending =
      std::ranges::count_if(states_, [](const auto& s) { return s.second.state == "pending"; });
  depth_gauge_.Set(static_cast<double>(pending));
  if (pending > 0) spdlog::info("event=dicom_spool_reloaded pending={}", pending);
  return {};
}

Result<void> SendQueue::WriteState(const fs::path& dir, const SendState& state) {
  const std::string text = ToJson(state).dump();
  return WriteAtomically(dir, state.id + ".json",
                         {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

Result<SendState> SendQueue::Enqueue(std::span<const std::uint8_t> part10,
                                     const SendRequest& request) {
  if (part10.empty() || request.prediction_id.empty() || request.kind.empty())
    return Fail(ErrorCode::kInvalidArgument, "a send needs the instance, its prediction and kind");
  SendState state;
  state.id = request.prediction_id + "-" + request.kind;
  if (!SafeName(state.id))
    return Fail(ErrorCode::kInvalidArgument, "send id '" + state.id + "' is not a safe file name");
  state.prediction_id = request.prediction_id;
  state.kind = request.kind;
  state.sop_instance_uid = request.sop_instance_uid;
  state.queued_at_ms = NowMs();
  const fs::path pending = spool_ / "pending";
  std::lock_guard lock(mu_);
  // The instance first, the state last: a state file always has its instance beside it.
  if (auto ok = WriteAtomically(pending, state.id + ".dcm", part10); !ok)
    return std::unexpected(ok.error());
  if (auto ok = WriteState(pending, state); !ok) return std::unexpected(ok.error());
  states_[state.id] = state;
  ++enqueued_;
  depth_gauge_.Set(static_cast<double>(
      std::ranges::count_if(states_, [](const auto& s) { return s.second.state == "pending"; })));
  wake_.notify_all();
  return state;
}

std::vector<SendState> SendQueue::ForPrediction(std::string_view prediction_id) const {
  std::lock_guard lock(mu_);
  std::vector<SendState> found;
  for (const auto& [id, state] : states_)
    if (state.prediction_id == prediction_id) found.push_back(state);
  return found;
}

std::vector<SendState> SendQueue::List() const {
  std::lock_guard lock(mu_);
  std::vector<SendState> all;
  all.reserve(states_.size());
  for (const auto& [id, state] : states_) all.push_back(state);
  std::ranges::sort(all, [](const SendState& a, const SendState& b) {
    return a.queued_at_ms != b.queued_at_ms ? a.queued_at_ms > b.queued_at_ms : a.id > b.id;
  });
  return all;
}

std::size_t SendQueue::depth() const {
  std::lock_guard lock(mu_);
  return static_cast<std::size_t>(
      std::ranges::count_if(states_, [](const auto& s) { return s.second.state == "pending"; }));
}

std::chrono::milliseconds SendQueue::Backoff(int attempts) const {
  auto wait = options_.initial_backoff;
  for (int i = 1; i < attempts && wait < options_.max_backoff; ++i) wait *= 2;
  return std::min(wait, options_.max_backoff);
}

void SendQueue::Stop() {
  if (worker_.joinable()) {
    worker_.request_stop();
    wake_.notify_all();
    worker_.join();
  }
}

void SendQueue::Run(const std::stop_token& stop) {
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    // The pending entry due first (oldest queued among those due now).
    const SendState* next = nullptr;
    for (const auto& [id, state] : states_) {
      if (state.state != "pending") continue;
      if (!next || state.next_attempt_ms < next->next_attempt_ms ||
          (state.next_attempt_ms == next->next_attempt_ms &&
           state.queued_at_ms < next->queued_at_ms))
        next = &state;
    }
    const std::int64_t now = NowMs();
    const std::uint64_t seen = enqueued_;
    const auto changed = [this, seen] { return enqueued_ != seen; };  // a new entry may be due
    if (!next) {
      wake_.wait(lock, stop, changed);
      continue;
    }
    if (next->next_attempt_ms > now) {
      wake_.wait_for(lock, stop, std::chrono::milliseconds(next->next_attempt_ms - now), changed);
      continue;
    }
    const std::string id = next->id;
    lock.unlock();
    Attempt(id);
    lock.lock();
  }
}

// REQUIRES: mu_ not held (the network call runs unlocked; only this thread changes an entry
// between Enqueue and its outcome, except a re-Enqueue, which simply wins).
void SendQueue::Attempt(const std::string& id) {
  const fs::path pending = spool_ / "pending";
  auto bytes = ReadFile(pending / (id + ".dcm"));
  Result<void> sent = bytes ? SendInstance(destination_, *bytes, options_)
                            : Result<void>(std::unexpected(bytes.error()));
  std::lock_guard lock(mu_);
  auto it = states_.find(id);
  if (it == states_.end()) return;
  SendState& state = it->second;
  ++state.attempts;
  std::error_code ec;
  if (sent) {
    state.state = "sent";
    state.sent_at_ms = NowMs();
    state.next_attempt_ms = 0;
    if (auto ok = WriteState(spool_ / "sent", state); !ok)
      spdlog::error("event=dicom_spool_write_failed error=\"{}\"", ok.error().message);
    fs::remove(pending / (id + ".json"), ec);
    fs::remove(pending / (id + ".dcm"), ec);
    sent_.Increment();
    PruneSent();
    spdlog::info("event=dicom_sent id={} kind={} destination={} attempts={}", id, state.kind,
                 destination_.ToString(), state.attempts);
  } else if (sent.error().code == ErrorCode::kUnavailable ||
             sent.error().code == ErrorCode::kIoError) {
    state.last_error = sent.error().message;
    state.next_attempt_ms = NowMs() + Backoff(state.attempts).count();
    if (auto ok = WriteState(pending, state); !ok)
      spdlog::error("event=dicom_spool_write_failed error=\"{}\"", ok.error().message);
    retried_.Increment();
    spdlog::warn("event=dicom_send_retry id={} attempts={} retry_in_ms={} error=\"{}\"", id,
                 state.attempts, Backoff(state.attempts).count(), state.last_error);
  } else {
    state.state = "failed";
    state.last_error = sent.error().message;
    state.next_attempt_ms = 0;
    fs::rename(pending / (id + ".dcm"), spool_ / "failed" / (id + ".dcm"), ec);
    if (auto ok = WriteState(spool_ / "failed", state); !ok)
      spdlog::error("event=dicom_spool_write_failed error=\"{}\"", ok.error().message);
    fs::remove(pending / (id + ".json"), ec);
    failed_.Increment();
    spdlog::error("event=dicom_send_failed id={} error=\"{}\"", id, state.last_error);
  }
  depth_gauge_.Set(static_cast<double>(
      std::ranges::count_if(states_, [](const auto& s) { return s.second.state == "pending"; })));
}

}  // namespace pneumo::dicom
