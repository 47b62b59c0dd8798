// An InstanceSink that keeps what it receives, for tests that need a real DICOM peer: pneumo's own
// StorageScp with this sink is the destination the send queue talks to.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dicom/storage_scp.h"
#include "image/dicom_attributes.h"

namespace pneumo::dicom::testing {

class RecordingSink : public InstanceSink {
 public:
  struct Received {
    std::string calling_ae, sop_instance_uid, sop_class_uid;
    std::size_t bytes = 0;
  };
  StoreStatus Store(const IncomingInstance& instance) override {
    auto a = image::ReadDicomAttributes(instance.part10);
    std::lock_guard lock(mu_);
    received_.push_back({instance.calling_ae_title, a ? a->sop_instance_uid : "",
                         a ? a->sop_class_uid : "", instance.part10.size()});
    cv_.notify_all();
    return status_;
  }
  void set_status(StoreStatus status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  bool WaitFor(std::size_t count, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return received_.size() >= count; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
  StoreStatus status_ = StoreStatus::kSuccess;
};

}  // namespace pneumo::dicom::testing
