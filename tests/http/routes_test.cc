// The route table is the single source of the routes: the OpenAPI description must list exactly
// its routes, each pattern must match its documented path, and only the documented few are open.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "http/http_server.h"

namespace pneumo::http {
namespace {

using Operation = std::pair<std::string, std::string>;  // method, path

std::set<Operation> SpecOperations() {
  std::ifstream file(PNEUMO_OPENAPI_JSON);
  std::stringstream text;
  text << file.rdbuf();
  const auto spec = nlohmann::json::parse(text.str());
  std::set<Operation> out;
  for (const auto& [path, item] : spec.at("paths").items()) {
    for (const auto& [method, operation] : item.items()) {
      if (method == "parameters" || method == "summary" || method == "description") continue;
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      out.emplace(upper, path);
    }
  }
  return out;
}

TEST(RouteTable, IsExactlyWhatTheOpenApiDescriptionLists) {
  std::set<Operation> table;
  for (const RouteInfo& route : HttpServer::Routes()) {
    EXPECT_TRUE(table.emplace(route.method, route.label).second)
        << route.method << " " << route.label << " is in the table twice";
  }
  EXPECT_EQ(table, SpecOperations());
}

TEST(RouteTable, EachPatternMatchesItsLabelWithTheParametersFilledIn) {
  for (const RouteInfo& route : HttpServer::Routes()) {
    std::string path(route.label);
    path = std::regex_replace(path, std::regex(R"(\{id\})"), "01JD3F0Q5C2B6W9Y8K7T4R1M0N");
    path = std::regex_replace(path, std::regex(R"(\{path\})"), "js/app.js");
    EXPECT_TRUE(std::regex_match(path, std::regex(std::string(route.pattern))))
        << route.pattern << " does not match " << path;
  }
}

TEST(RouteTable, OnlyLivenessReadinessAndThePageAssetsAreOpenToAnyone) {
  std::set<std::string> open;
  for (const RouteInfo& route : HttpServer::Routes()) {
    if (route.access == Access::kPublic) open.insert(std::string(route.label));
  }
  EXPECT_EQ(open, (std::set<std::string>{"/healthz", "/readyz", "/", "/static/{path}"}));
}

TEST(RouteTable, TheOriginalApisRoutesAnswerErrorsInItsShape) {
  for (const RouteInfo& route : HttpServer::Routes()) {
    const bool original =
        route.label == "/predict" || route.label == "/predictions" || route.label == "/health";
    EXPECT_EQ(route.errors == ErrorShape::kCompat, original) << route.label;
    EXPECT_EQ(route.access == Access::kLegacy, original) << route.label;
  }
}

}  // namespace
}  // namespace pneumo::http
