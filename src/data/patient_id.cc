#include "data/patient_id.h"

#include <regex>

namespace pneumo::data {

std::string PatientIdFromFilename(std::string_view filename) {
  // Anchored patterns: "personN_<anything>", "[NORMAL2-]IM-XXXX-<anything>".
  static const std::regex kPerson(R"(^(person\d+)_.*)", std::regex::icase);
  static const std::regex kIm(R"(^((?:NORMAL2-)?IM-\d+)-.*)", std::regex::icase);
  const std::string name(filename);
  std::smatch match;
  if (std::regex_match(name, match, kPerson) || std::regex_match(name, match, kIm)) {
    return match[1].str();
  }
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? name : name.substr(0, dot);
}

}  // namespace pneumo::data
