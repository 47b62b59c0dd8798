#include "dicom/stow.h"

#include <nlohmann/json.hpp>

namespace pneumo::dicom {
namespace {

nlohmann::json Uid(const std::string& value) {
  return {{"vr", "UI"}, {"Value", nlohmann::json::array({value})}};
}

std::string ErrorBody(const std::string& message) {
  return nlohmann::json{{"error", message}}.dump();
}

}  // namespace

StowResponse Stow(std::string_view content_type, std::span<const std::uint8_t> body,
                  DicomNode& node) {
  StowResponse response;
  auto parts = ParseMultipartRelated(content_type, body);
  if (!parts) {
    response.http_status = parts.error().code == ErrorCode::kUnsupportedFormat ? 415 : 400;
    response.content_type = "application/json";
    response.body = ErrorBody(parts.error().message);
    return response;
  }
  nlohmann::json referenced = nlohmann::json::array(), failed = nlohmann::json::array();
  for (const MultipartPart& part : *parts) {
    ReceiveOutcome outcome;
    if (!part.content_type.empty() && part.content_type != "application/dicom") {
      outcome.status = StoreStatus::kCannotUnderstand;
    } else {
      outcome = node.Receive(part.body, "stow-rs");
    }
    nlohmann::json item = nlohmann::json::object();
    if (!outcome.logged.sop_class_uid.empty()) item["00081150"] = Uid(outcome.logged.sop_class_uid);
    if (!outcome.logged.sop_instance_uid.empty())
      item["00081155"] = Uid(outcome.logged.sop_instance_uid);
    if (outcome.status == StoreStatus::kSuccess) {
      referenced.push_back(item);
    } else {
      item["00081197"] = {{"vr", "US"},
                          {"Value", nlohmann::json::array({static_cast<int>(outcome.status)})}};
      failed.push_back(item);
    }
  }
  nlohmann::json answer = nlohmann::json::object();
  if (!referenced.empty()) answer["00081199"] = {{"vr", "SQ"}, {"Value", referenced}};
  if (!failed.empty()) answer["00081198"] = {{"vr", "SQ"}, {"Value", failed}};
  response.http_status = failed.empty() ? 200 : referenced.empty() ? 409 : 202;
  response.body = answer.dump();
  return response;
}

}  // namespace pneumo::dicom
