// src/http/openapi.json against docs/http-api.md and against the running server: the server
// serves the file verbatim; every operation in it, called with real data, answers a status and
// Content-Type the document lists, with JSON that validates against the referenced schema; and
// every route of the contract is in the document.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "serve/serve_fixture.h"

namespace pneumo::serve_testing {
namespace {

const fs::path kSpecPath = fs::path(PNEUMO_SOURCE_DIR) / "src" / "http" / "openapi.json";
const fs::path kContractPath = fs::path(PNEUMO_SOURCE_DIR) / "docs" / "http-api.md";

const json& Spec() {
  static const json spec = json::parse(ReadFile(kSpecPath), nullptr, /*allow_exceptions=*/false);
  return spec;
}

// ---------------------------------------------------------------------------------------------
// A small JSON Schema validator for the OpenAPI 3.0 subset this spec uses. Keywords it does not
// know make UsesOnlySchemaKeywordsTheValidatorChecks fail, so nothing is silently unchecked.

const std::set<std::string> kValidatedKeywords = {"$ref",
                                                  "type",
                                                  "nullable",
                                                  "enum",
                                                  "required",
                                                  "properties",
                                                  "additionalProperties",
                                                  "items",
                                                  "minimum",
                                                  "maximum",
                                                  "minLength",
                                                  "maxLength",
                                                  "pattern",
                                                  "minItems",
                                                  "maxItems",
                                                  "allOf",
                                                  "anyOf",
                                                  "oneOf",
                                                  "format"};
const std::set<std::string> kAnnotationKeywords = {"description", "default", "example", "title"};

class SchemaValidator {
 public:
  explicit SchemaValidator(const json& document) : document_(document) {}

  // Follows "$ref": "#/..." (repeatedly). Throws json::exception on a dangling reference.
  const json& Resolve(const json& node) const {
    const json* at = &node;
    for (int depth = 0; at->is_object() && at->contains("$ref") && depth < 32; ++depth) {
      const std::string ref = (*at)["$ref"];
      if (!ref.starts_with("#/"))
        throw std::runtime_error("only local $refs are supported: " + ref);
      at = &document_.at(json::json_pointer(ref.substr(1)));
    }
    return *at;
  }

  // What is wrong with `value` under `schema`; empty when it validates. `where` is a JSON path.
  std::vector<std::string> Validate(const json& value, const json& schema_or_ref,
                                    const std::string& where = "$") const {
    std::vector<std::string> problems;
    Check(value, schema_or_ref, where, problems);
    return problems;
  }

 private:
  static bool HasType(const json& v, const std::string& type) {
    if (type == "object") return v.is_object();
    if (type == "array") return v.is_array();
    if (type == "string") return v.is_string();
    if (type == "boolean") return v.is_boolean();
    if (type == "integer") return v.is_number_integer();
    if (type == "number") return v.is_number();
    return false;
  }

  void Check(const json& v, const json& schema_or_ref, const std::string& where,
             std::vector<std::string>& problems) const {
    const json& s = Resolve(schema_or_ref);
    if (!s.is_object()) return;  // {} and true accept anything
    auto fail = [&](const std::string& what) { problems.push_back(where + ": " + what); };
    if (v.is_null() && s.value("nullable", false)) return;
    if (s.contains("type") && !HasType(v, s["type"])) {
      fail("is " + std::string(v.type_name()) + " (" + v.dump().substr(0, 80) + "), not " +
           s["type"].get<std::string>());
      return;
    }
    if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) {
      fail(v.dump() + " is not one of " + s["enum"].dump());
    }
    if (v.is_number()) {
      if (s.contains("minimum") && v.get<double>() < s["minimum"].get<double>())
        fail(v.dump() + " < minimum " + s["minimum"].dump());
      if (s.contains("maximum") && v.get<double>() > s["maximum"].get<double>())
        fail(v.dump() + " > maximum " + s["maximum"].dump());
    }
    if (v.is_string()) {
      const std::string text = v;
      if (s.contains("minLength") && text.size() < s["minLength"].get<std::size_t>())
        fail("shorter than minLength " + s["minLength"].dump());
      if (s.contains("maxLength") && text.size() > s["maxLength"].get<std::size_t>())
        fail("longer than maxLength " + s["maxLength"].dump());
      if (s.contains("pattern") &&
          !std::regex_search(text, std::regex(s["pattern"].get<std::string>()))) {
        fail("\"" + text + "\" does not match " + s["pattern"].get<std::string>());
      }
      if (s.value("format", "") == "date-time" &&
          !std::regex_match(
              text,
              std::regex(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$)"))) {
        fail("\"" + text + "\" is not an RFC 3339 date-time");
      }
    }
    if (v.is_array()) {
      if (s.contains("minItems") && v.size() < s["minItems"].get<std::size_t>())
        fail("fewer than minItems");
      if (s.contains("maxItems") && v.size() > s["maxItems"].get<std::size_t>())
        fail("more than maxItems");
      if (s.contains("items")) {
        for (std::size_t i = 0; i < v.size(); ++i)
          Check(v[i], s["items"], where + "[" + std::to_string(i) + "]", problems);
      }
    }
    if (v.is_object()) {
      for (const auto& key : s.value("required", json::array())) {
        if (!v.contains(key.get<std::string>()))
          fail("missing required \"" + key.get<std::string>() + "\"");
      }
      const json properties = s.value("properties", json::object());
      for (const auto& [key, item] : v.items()) {
        if (properties.contains(key)) {
          Check(item, properties[key], where + "." + key, problems);
        } else if (s.contains("additionalProperties")) {
          const json& extra = s["additionalProperties"];
          if (extra.is_boolean() && !extra.get<bool>()) fail("has undocumented \"" + key + "\"");
          if (extra.is_object()) Check(item, extra, where + "." + key, problems);
        }
      }
    }
    for (const auto& sub : s.value("allOf", json::array())) Check(v, sub, where, problems);
    for (const char* keyword : {"anyOf", "oneOf"}) {
      if (!s.contains(keyword)) continue;
      int matches = 0;
      for (const auto& sub : s[keyword]) matches += Validate(v, sub, where).empty() ? 1 : 0;
      if (matches == 0 || (std::string(keyword) == "oneOf" && matches != 1)) {
        fail("matches " + std::to_string(matches) + " of the " + keyword + " alternatives");
      }
    }
  }

  const json& document_;
};

TEST(SchemaValidator, AcceptsAValidPredictionAndNamesEveryProblemInABadOne) {
  ASSERT_FALSE(Spec().is_discarded()) << kSpecPath << " is not valid JSON";
  const SchemaValidator validator(Spec());
  const json ref = {{"$ref", "#/components/schemas/Prediction"}};
  json p = json::parse(R"({
    "id": "01JD3F0Q5C2B6W9Y8K7T4R1M0N", "filename": "person1_virus_6.jpeg", "label": "PNEUMONIA",
    "probability": 0.9731, "threshold": 0.6588, "review": false, "review_reasons": [],
    "model": {"name": "pneumonet", "version": "1.0.0"},
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "created_at": "2026-11-26T15:02:11.532Z",
    "image": {"format": "jpeg", "width": 224, "height": 224},
    "timings_ms": {"decode": 1.9, "queue": 0.4, "inference": 6.1},
    "links": {"self": "/api/v1/predictions/01JD3F0Q5C2B6W9Y8K7T4R1M0N",
              "image": "/api/v1/predictions/01JD3F0Q5C2B6W9Y8K7T4R1M0N/image",
              "heatmap": "/api/v1/predictions/01JD3F0Q5C2B6W9Y8K7T4R1M0N/heatmap"}})");
  EXPECT_EQ(validator.Validate(p, ref), std::vector<std::string>());

  p.erase("sha256");
  p["label"] = "MAYBE";
  p["probability"] = 1.5;
  p["image"]["width"] = 22.5;
  p["review_reasons"] = {"fine", 3};
  p["created_at"] = "yesterday";
  const auto problems = validator.Validate(p, ref);
  ASSERT_EQ(problems.size(), 6u) << ::testing::PrintToString(problems);
  const std::string all = ::testing::PrintToString(problems);
  for (const char* needle : {"missing required \\\"sha256\\\"", "$.label", "$.probability",
                             "$.image.width", "$.review_reasons[1]", "$.created_at"}) {
    EXPECT_NE(all.find(needle), std::string::npos) << needle << " in " << all;
  }
}

TEST(SchemaValidator, ChecksErrorBodiesAgainstTheCodeEnum) {
  const SchemaValidator validator(Spec());
  const json ref = {{"$ref", "#/components/schemas/Error"}};
  EXPECT_TRUE(
      validator.Validate(json::parse(R"({"error": {"code": "not_found", "message": "no"}})"), ref)
          .empty());
  EXPECT_FALSE(
      validator.Validate(json::parse(R"({"error": {"code": "oops", "message": "no"}})"), ref)
          .empty());
  EXPECT_FALSE(
      validator.Validate(json::parse(R"({"error": {"code": "not_found", "message": ""}})"), ref)
          .empty());
  EXPECT_FALSE(validator.Validate(json::parse(R"({"message": "no"})"), ref).empty());
}

// ---------------------------------------------------------------------------------------------
// The document on its own

const std::vector<std::string> kMethods = {"get",     "put",  "post",  "delete",
                                           "options", "head", "patch", "trace"};

// Every (METHOD, path) in the spec, e.g. ("POST", "/api/v1/predictions").
std::set<std::pair<std::string, std::string>> SpecOperations() {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& [path, item] : Spec().at("paths").items()) {
    for (const auto& method : kMethods) {
      if (!item.contains(method)) continue;
      std::string upper = method;
      for (auto& c : upper) c = static_cast<char>(std::toupper(c));
      out.emplace(upper, path);
    }
  }
  return out;
}

// The routes docs/http-api.md defines. Kept by hand because the contract names the static route
// by example (/static/app.js); ContractRoutesMatchTheDocument checks it against the text.
const std::set<std::pair<std::string, std::string>> kContractRoutes = {
    {"POST", "/api/v1/predictions"},
    {"GET", "/api/v1/predictions"},
    {"GET", "/api/v1/predictions/{id}"},
    {"GET", "/api/v1/predictions/{id}/image"},
    {"GET", "/api/v1/predictions/{id}/heatmap"},
    {"GET", "/api/v1/predictions/{id}/sr"},
    {"POST", "/dicomweb/studies"},
    {"GET", "/api/v1/dicom/received"},
    {"GET", "/api/v1/dicom/sends"},
    {"GET", "/api/v1/model"},
    {"GET", "/api/v1/openapi.json"},
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"POST", "/predict"},
    {"GET", "/predictions"},
    {"GET", "/health"},
    {"GET", "/"},
    {"GET", "/static/{path}"},
    {"POST", "/api/v1/session"},
    {"GET", "/api/v1/session"},
    {"DELETE", "/api/v1/session"},
    {"POST", "/api/v1/session/password"},
    {"GET", "/api/v1/users"},
    {"POST", "/api/v1/users"},
    {"POST", "/api/v1/users/{name}/disable"},
    {"POST", "/api/v1/users/{name}/password"},
    {"GET", "/api/v1/users/{name}/tokens"},
    {"POST", "/api/v1/users/{name}/tokens"},
    {"DELETE", "/api/v1/tokens/{id}"},
    {"DELETE", "/api/v1/predictions/{id}"},
    {"GET", "/api/v1/predictions.csv"},
    {"GET", "/api/v1/audit"},
};

TEST(OpenApiDocument, IsOpenApi30WithUniqueOperationIdsAndResolvableRefs) {
  const json& spec = Spec();
  ASSERT_FALSE(spec.is_discarded()) << kSpecPath << " is not valid JSON";
  ASSERT_TRUE(spec.contains("openapi") && spec["openapi"].is_string());
  EXPECT_TRUE(spec["openapi"].get<std::string>().starts_with("3.0.")) << spec["openapi"];
  EXPECT_TRUE(spec.contains("info") && spec["info"].contains("title") &&
              spec["info"].contains("version"));
  const SchemaValidator validator(spec);
  std::set<std::string> operation_ids;
  for (const auto& [path, item] : spec["paths"].items()) {
    // Every {param} in the template is declared as a path parameter (on the path or operation).
    std::set<std::string> declared;
    auto collect = [&](const json& params) {
      for (const auto& p : params) {
        const json& param = validator.Resolve(p);
        if (param.value("in", "") == "path") {
          declared.insert(param.value("name", ""));
          EXPECT_TRUE(param.value("required", false)) << path << ": path parameters are required";
        }
      }
    };
    collect(item.value("parameters", json::array()));
    for (const auto& method : kMethods) {
      if (!item.contains(method)) continue;
      const json& op = item[method];
      collect(op.value("parameters", json::array()));
      ASSERT_TRUE(op.contains("operationId")) << method << " " << path;
      EXPECT_TRUE(operation_ids.insert(op["operationId"]).second)
          << "duplicate " << op["operationId"];
      ASSERT_TRUE(op.contains("responses") && !op["responses"].empty()) << method << " " << path;
    }
    std::smatch m;
    std::string rest = path;
    while (std::regex_search(rest, m, std::regex(R"(\{([^}]+)\})"))) {
      EXPECT_TRUE(declared.count(m[1])) << path << ": {" << m[1] << "} is not declared";
      rest = m.suffix();
    }
  }
  // Every $ref anywhere resolves.
  std::function<void(const json&, const std::string&)> walk = [&](const json& node,
                                                                  const std::string& at) {
    if (node.is_object()) {
      if (node.contains("$ref")) {
        EXPECT_NO_THROW(validator.Resolve(node)) << at << ": dangling " << node["$ref"];
      }
      for (const auto& [k, v] : node.items()) walk(v, at + "/" + k);
    } else if (node.is_array()) {
      for (std::size_t i = 0; i < node.size(); ++i) walk(node[i], at + "/" + std::to_string(i));
    }
  };
  walk(spec, "#");
}

TEST(OpenApiDocument, UsesOnlySchemaKeywordsTheValidatorChecks) {
  // Schemas sit under components/schemas and under every "schema" key.
  std::vector<std::pair<std::string, json>> schemas;
  std::function<void(const json&, const std::string&)> find = [&](const json& node,
                                                                  const std::string& at) {
    if (node.is_object()) {
      for (const auto& [k, v] : node.items()) {
        if (k == "schema") schemas.emplace_back(at + "/schema", v);
        find(v, at + "/" + k);
      }
    } else if (node.is_array()) {
      for (const auto& v : node) find(v, at);
    }
  };
  find(Spec(), "#");
  for (const auto& [name, schema] : Spec()["components"]["schemas"].items()) {
    schemas.emplace_back("#/components/schemas/" + name, schema);
  }
  ASSERT_GT(schemas.size(), 10u);
  std::function<void(const json&, const std::string&)> check = [&](const json& s,
                                                                   const std::string& at) {
    if (!s.is_object()) return;
    for (const auto& [k, v] : s.items()) {
      EXPECT_TRUE(kValidatedKeywords.count(k) || kAnnotationKeywords.count(k))
          << at << " uses \"" << k << "\", which the test's validator does not check";
      if (k == "properties")
        for (const auto& [name, sub] : v.items()) check(sub, at + "/properties/" + name);
      if (k == "items" || (k == "additionalProperties" && v.is_object())) check(v, at + "/" + k);
      if (k == "allOf" || k == "anyOf" || k == "oneOf")
        for (const auto& sub : v) check(sub, at + "/" + k);
    }
  };
  for (const auto& [at, schema] : schemas) check(schema, at);
}

TEST(OpenApiDocument, EveryContractRouteIsInTheSpecAndNoOther) {
  EXPECT_EQ(SpecOperations(), kContractRoutes);
}

TEST(OpenApiDocument, ContractRoutesMatchTheDocument) {
  const std::string contract = ReadFile(kContractPath);
  ASSERT_FALSE(contract.empty()) << kContractPath;
  std::set<std::pair<std::string, std::string>> mentioned;
  const std::regex route(R"(`(GET|POST|PUT|DELETE|PATCH) (/[^`?\s]*))");
  for (std::sregex_iterator it(contract.begin(), contract.end(), route), end; it != end; ++it) {
    mentioned.emplace((*it)[1], (*it)[2]);
  }
  if (contract.find("/static/app.js") != std::string::npos)
    mentioned.emplace("GET", "/static/{path}");
  EXPECT_EQ(mentioned, kContractRoutes) << "docs/http-api.md and this test's route list differ";
}

TEST(OpenApiDocument, ErrorCodesAndStatusesAreThoseOfTheContractTable) {
  const std::string contract = ReadFile(kContractPath);
  std::map<std::string, int> table;  // code -> status
  const std::regex row(R"(\|\s*(\d{3})\s*\|\s*`([a-z_]+)`\s*\|)");
  for (std::sregex_iterator it(contract.begin(), contract.end(), row), end; it != end; ++it) {
    table[(*it)[2]] = std::stoi((*it)[1]);
  }
  ASSERT_GE(table.size(), 13u) << "cannot read the error table of " << kContractPath;
  const json& codes =
      Spec()["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"];
  std::set<std::string> in_spec(codes.begin(), codes.end());
  std::set<std::string> in_table;
  for (const auto& [code, status] : table) in_table.insert(code);
  EXPECT_EQ(in_spec, in_table);

  // Each status of the table (but 405, which belongs to no operation) is a documented response
  // whose description names the codes it stands for.
  const SchemaValidator validator(Spec());
  for (const auto& [code, status] : table) {
    if (status == 405 || code == "not_found") continue;
    bool documented = false;
    for (const auto& [path, item] : Spec()["paths"].items()) {
      for (const auto& [method, op] : item.items()) {
        if (!op.is_object() || !op.contains("responses")) continue;
        const std::string key = std::to_string(status);
        if (!op["responses"].contains(key)) continue;
        const json& response = validator.Resolve(op["responses"][key]);
        documented |= response.value("description", "").find(code) != std::string::npos;
      }
    }
    EXPECT_TRUE(documented) << status << " " << code << " is documented by no operation";
  }
}

// The original Flask API's routes (tag "compat") answer errors in its shape, CompatError.
bool IsCompatOperation(const json& op) {
  const json tags = op.value("tags", json::array());
  return std::find(tags.begin(), tags.end(), "compat") != tags.end();
}

bool IsCompatPath(const std::string& path) {
  if (!Spec()["paths"].contains(path)) return false;  // a filled-in template: not the original's
  for (const auto& [method, op] : Spec()["paths"][path].items()) {
    if (op.is_object() && IsCompatOperation(op)) return true;
  }
  return false;
}

bool IsAccountsPath(const std::string& path) {
  for (const auto& [method, op] : Spec()["paths"][path].items()) {
    const json tags = op.is_object() ? op.value("tags", json::array()) : json::array();
    if (std::find(tags.begin(), tags.end(), "accounts") != tags.end()) return true;
  }
  return false;
}

TEST(OpenApiDocument, EveryErrorResponseHasTheErrorSchema) {
  const SchemaValidator validator(Spec());
  for (const auto& [path, item] : Spec()["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (!op.is_object() || !op.contains("responses")) continue;
      const std::string schema = IsCompatOperation(op) ? "CompatError" : "Error";
      for (const auto& [status, ref] : op["responses"].items()) {
        if (status[0] != '4' && status[0] != '5') continue;
        // Health probes answer 503 with their own body: that is the probe's answer, not an error.
        const std::string id = op.value("operationId", "");
        if (status == "503" && (id == "getReadyz" || id == "compatHealth")) continue;
        // STOW-RS answers 409 (nothing stored) with the standard's DICOM JSON, listing why.
        if (status == "409" && id == "stowInstances") continue;
        const json& response = validator.Resolve(ref);
        ASSERT_TRUE(response.contains("content") &&
                    response["content"].contains("application/json"))
            << method << " " << path << " " << status;
        EXPECT_EQ(response["content"]["application/json"]["schema"],
                  json({{"$ref", "#/components/schemas/" + schema}}))
            << method << " " << path << " " << status;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The document against the running server

class OpenApiServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    server_ = new PneumoServer("sqlite:" + (dir_->path() / "results.db").string());
    start_problem_ = server_->Start();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  void SetUp() override {
    ASSERT_FALSE(Spec().is_discarded()) << kSpecPath << " is not valid JSON";
    ASSERT_EQ(start_problem_, "") << start_problem_;
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "server log:\n" << server_->LogTail(3000) << "\n";
  }

  static TempDir* dir_;
  static PneumoServer* server_;
  static std::string start_problem_;
};
TempDir* OpenApiServerTest::dir_ = nullptr;
PneumoServer* OpenApiServerTest::server_ = nullptr;
std::string OpenApiServerTest::start_problem_;

TEST_F(OpenApiServerTest, ServesTheSourceFileByteForByte) {
  auto client = server_->Client();
  auto res = client.Get("/api/v1/openapi.json");
  ASSERT_TRUE(res && res->status == 200) << Describe(res);
  EXPECT_EQ(MediaType(res->get_header_value("Content-Type")), "application/json");
  const std::string source = ReadFile(kSpecPath);
  EXPECT_EQ(res->body.size(), source.size());
  EXPECT_TRUE(res->body == source) << "GET /api/v1/openapi.json differs from " << kSpecPath;
}

// One call of an operation: how to make it and whether it must succeed.
struct Probe {
  std::string method, path_template, url;
  std::string content_type;  // of the body; "multipart/form-data" builds a form with `file`
  std::string body;
  bool must_succeed = true;  // a 2xx status is required (else any documented status)
};

std::string Fill(std::string path, const std::map<std::string, std::string>& values) {
  for (const auto& [name, value] : values) {
    const std::string placeholder = "{" + name + "}";
    for (auto at = path.find(placeholder); at != std::string::npos; at = path.find(placeholder)) {
      path.replace(at, placeholder.size(), value);
    }
  }
  return path;
}

std::string BodyFor(const std::string& media_type, unsigned seed) {
  if (media_type == "image/jpeg") return ChestJpeg(seed);
  if (media_type == "application/dicom") return Dicom(ChestXray(seed, 256, 256));
  return ChestPng(seed);  // image/png, and the file of a multipart form
}

TEST_F(OpenApiServerTest, EveryOperationAnswersAStatusContentTypeAndBodyTheSpecDocuments) {
  auto client = server_->Client();
  auto created =
      UploadRaw(client, "/api/v1/predictions?filename=first.png", ChestPng(1), "image/png");
  ASSERT_TRUE(created && created->status == 201) << Describe(created);
  const std::map<std::string, std::string> real = {{"id", Json(created).value("id", "")},
                                                   {"path", "app.js"}};
  // The SR route needs a prediction made from DICOM.
  auto from_dicom = UploadRaw(client, "/api/v1/predictions?filename=first.dcm",
                              Dicom(ChestXray(2, 256, 256)), "application/dicom");
  ASSERT_TRUE(from_dicom && from_dicom->status == 201) << Describe(from_dicom);
  const std::map<std::string, std::string> real_dicom = {{"id", Json(from_dicom).value("id", "")},
                                                         {"path", "app.js"}};
  const std::map<std::string, std::string> missing = {{"id", "01JD3F0Q5C2B6W9Y8K7T4R1M0N"},
                                                      {"path", "no-such-asset.js"}};
  const SchemaValidator validator(Spec());

  std::vector<Probe> probes;
  unsigned seed = 10;
  for (const auto& [method, path] : SpecOperations()) {
    // The account routes need users of their own, and a deletion would take the probes' study
    // away: auth_api_test.cc covers both.
    if (IsAccountsPath(path) || method == "DELETE") continue;
    const json& op = Spec()["paths"][path][method == "GET"    ? "get"
                                           : method == "POST" ? "post"
                                                              : "?"];
    ASSERT_TRUE(op.is_object()) << method << " " << path << ": no probe for this method";
    if (op.contains("requestBody")) {
      for (const auto& [media_type, content] :
           validator.Resolve(op["requestBody"])["content"].items()) {
        // STOW-RS: the media type needs its parameters, the body its parts.
        const std::string type = media_type == "multipart/related"
                                     ? "multipart/related; type=\"application/dicom\"; boundary=p"
                                     : media_type;
        const std::string body = media_type == "multipart/related"
                                     ? "--p\r\nContent-Type: application/dicom\r\n\r\n" +
                                           Dicom(ChestXray(++seed, 256, 256)) + "\r\n--p--\r\n"
                                     : BodyFor(media_type, ++seed);
        probes.push_back({method, path, Fill(path, real), type, body});
        probes.push_back({method, path, Fill(path, real), type, "not an image", false});
        probes.push_back({method, path, Fill(path, real), type, "", false});
      }
    } else {
      probes.push_back({method, path, Fill(path, path.ends_with("/sr") ? real_dicom : real)});
      if (path.find('{') != std::string::npos)
        probes.push_back({method, path, Fill(path, missing), "", "", false});
    }
  }
  const std::vector<std::pair<std::string, bool>> queries = {
      {"?page=2&per_page=1", true}, {"?page=1000", true},     {"?per_page=100", true},
      {"?page=0", false},           {"?per_page=500", false}, {"?page=x", false}};
  for (const auto& [query, valid] : queries) {
    probes.push_back({"GET", "/api/v1/predictions", "/api/v1/predictions" + query, "", "", valid});
  }
  // The original's paging: 25 a page, a page that is not an integer is page 1.
  const std::vector<std::pair<std::string, bool>> compat_queries = {
      {"?page=1", true}, {"?page=x", true}, {"?page=0", false}, {"?page=1000", false}};
  for (const auto& [query, valid] : compat_queries) {
    probes.push_back({"GET", "/predictions", "/predictions" + query, "", "", valid});
  }

  for (const Probe& probe : probes) {
    SCOPED_TRACE(probe.method + " " + probe.url +
                 (probe.content_type.empty() ? ""
                                             : " [" + probe.content_type + ", " +
                                                   std::to_string(probe.body.size()) + " bytes]"));
    const httplib::Result res = probe.method == "GET" ? client.Get(probe.url.c_str())
                                : probe.content_type == "multipart/form-data"
                                    ? UploadMultipart(client, probe.url, probe.body, "probe.png")
                                    : UploadRaw(client, probe.url, probe.body, probe.content_type);
    ASSERT_TRUE(res) << Describe(res);
    if (probe.must_succeed) {
      EXPECT_LT(res->status, 300) << Describe(res);
    }
    const json& op = Spec()["paths"][probe.path_template][probe.method == "GET" ? "get" : "post"];
    const std::string status = std::to_string(res->status);
    const json& responses = op["responses"];
    const std::string key = responses.contains(status) ? status
                            : responses.contains(status.substr(0, 1) + "XX")
                                ? status.substr(0, 1) + "XX"
                            : responses.contains("default") ? "default"
                                                            : "";
    if (key.empty()) {
      ADD_FAILURE() << "status " << status
                    << " is not documented for this operation (documented: " <<
          [&] {
            std::string s;
            for (const auto& [k, v] : responses.items()) s += k + " ";
            return s;
          }()
                    << "): " << Describe(res);
      continue;
    }
    const json& response = validator.Resolve(responses[key]);
    const json headers = response.value("headers", json::object());
    for (const auto& [header, spec] : headers.items()) {
      EXPECT_TRUE(res->has_header(header))
          << "documented header " << header << " missing: " << Describe(res);
    }
    if (!response.contains("content")) continue;
    const std::string media_type = MediaType(res->get_header_value("Content-Type"));
    if (!response["content"].contains(media_type)) {
      ADD_FAILURE() << "Content-Type \"" << media_type << "\" is not documented for " << status
                    << " (documented: " << response["content"].dump().substr(0, 200) << ")";
      continue;
    }
    const json& schema = response["content"][media_type].value("schema", json::object());
    if (media_type == "application/json") {
      const json body = Json(res);
      ASSERT_FALSE(body.is_discarded()) << "not JSON: " << Describe(res);
      const auto problems = validator.Validate(body, schema);
      EXPECT_TRUE(problems.empty())
          << ::testing::PrintToString(problems) << "\nin " << body.dump().substr(0, 1500);
    } else if (media_type == "image/png") {
      EXPECT_TRUE(HasPngSignature(res->body)) << "not a PNG";
    } else if (media_type == "image/jpeg") {
      EXPECT_TRUE(res->body.starts_with("\xFF\xD8\xFF")) << "not a JPEG";
    } else {
      EXPECT_FALSE(res->body.empty()) << "empty " << media_type << " body";
    }
  }
}

TEST_F(OpenApiServerTest, WrongMethodsOnDocumentedRoutesAre405WithTheDocumentedMethodsInAllow) {
  auto client = server_->Client();
  std::map<std::string, std::set<std::string>> allowed;  // concrete path -> methods in the spec
  for (const auto& [method, path] : SpecOperations()) {
    allowed[Fill(path, {{"id", "01JD3F0Q5C2B6W9Y8K7T4R1M0N"}, {"path", "app.js"}})].insert(method);
  }
  for (const auto& [path, methods] : allowed) {
    for (const std::string method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
      if (methods.count(method)) continue;
      SCOPED_TRACE(method + " " + path);
      const RawResponse res = RawExchange(
          *server_,
          method + " " + path +
              " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      if (IsCompatPath(path)) {
        EXPECT_TRUE(IsCompatError(res, 405));
      } else {
        EXPECT_TRUE(IsApiError(res, 405, "method_not_allowed"));
      }
      std::smatch m;
      const bool has_allow = std::regex_search(
          res.headers, m, std::regex(R"(\r\nAllow:\s*([^\r]*))", std::regex::icase));
      ASSERT_TRUE(has_allow) << "no Allow header:\n" << res.headers;
      for (const auto& want : methods)
        EXPECT_NE(m[1].str().find(want), std::string::npos) << "Allow: " << m[1];
    }
  }
}

}  // namespace
}  // namespace pneumo::serve_testing
