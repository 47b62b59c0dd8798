#include "apps/pneumo/config_file.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <vector>

namespace pneumo::app {
namespace fs = std::filesystem;

namespace {

struct FileSetting {
  std::string value;
  int line = 0;
};

std::string Trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

bool IsKeyChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A value after '=': a double-quoted string (TOML basic string escapes), or bare text up to a
// comment. nullopt, with `why` set, when it is malformed.
std::optional<std::string> ParseValue(const std::string& text, std::string& why) {
  if (text.empty()) {
    why = "no value after '=' (write key = \"\" for an empty string)";
    return std::nullopt;
  }
  if (text.front() != '"') {
    std::string bare = Trim(text.substr(0, text.find('#')));
    if (bare.empty()) {
      why = "no value after '='";
      return std::nullopt;
    }
    if (bare.front() == '\'' || bare.front() == '[' || bare.front() == '{') {
      why = "only double-quoted strings, numbers and true/false are supported";
      return std::nullopt;
    }
    return bare;
  }
  std::string out;
  std::size_t i = 1;
  for (; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) break;
    switch (text[i]) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      default:
        why = std::string("unknown escape \\") + text[i] + " in a quoted string";
        return std::nullopt;
    }
  }
  if (i >= text.size()) {
    why = "the quoted string is not closed";
    return std::nullopt;
  }
  const std::string rest = Trim(text.substr(i + 1));
  if (!rest.empty() && rest.front() != '#') {
    why = "unexpected text after the closing quote: '" + rest + "'";
    return std::nullopt;
  }
  return out;
}

// Hand-written rather than CLI11's reader (its set_config): CLI11 2.1 drops lines shorter than
// three characters, turns a line without '=' into a flag, splits bare values at spaces, and its
// errors name neither the file nor the line, which an operator editing /etc needs.
Result<std::map<std::string, FileSetting>> ReadConfigFile(const fs::path& file,
                                                          const std::string& section) {
  std::ifstream in(file);
  if (!in)
    return Fail(ErrorCode::kIoError,
                "cannot read config file " + file.string() + ": " + std::strerror(errno));
  std::map<std::string, FileSetting> settings;
  std::string raw;
  int number = 0;
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                file.string() + ":" + std::to_string(number) + ": " + why);
  };
  while (std::getline(in, raw)) {
    ++number;
    const std::string line = Trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      const std::string name = line.back() == ']' ? Trim(line.substr(1, line.size() - 2)) : "";
      if (name != section)
        return bad("unknown section '" + line + "' (the only section is [" + section + "])");
      continue;
    }
    const auto equals = line.find('=');
    if (equals == std::string::npos) return bad("expected key = value, got '" + line + "'");
    const std::string key = Trim(line.substr(0, equals));
    if (key.empty() || !std::all_of(key.begin(), key.end(), IsKeyChar))
      return bad("'" + key + "' is not a key (letters, digits and _)");
    std::string why;
    auto value = ParseValue(Trim(line.substr(equals + 1)), why);
    if (!value) return bad("key '" + key + "': " + why);
    if (auto seen = settings.find(key); seen != settings.end())
      return bad("key '" + key + "' is set twice (first on line " +
                 std::to_string(seen->second.line) + ")");
    settings[key] = {*value, number};
  }
  return settings;
}

bool IsFlag(const CLI::Option& option) {
  return option.get_type_size_max() == 0 || option.get_expected_max() == 0;
}

// Sets the option's value from text, as if it had been typed; the option's own conversion and
// validators judge it.
Result<void> SetFromText(CLI::Option& option, const std::string& text) {
  try {
    option.clear();
    if (IsFlag(option)) {
      const std::string lower = [&] {
        std::string l = text;
        for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return l;
      }();
      if (lower != "true" && lower != "false" && lower != "1" && lower != "0")
        return Fail(ErrorCode::kInvalidArgument, "expected true or false, got '" + text + "'");
      option.add_result(lower == "true" || lower == "1" ? "true" : "false");
    } else {
      option.add_result(text);
    }
    option.run_callback();
  } catch (const CLI::Error& e) {
    return Fail(ErrorCode::kInvalidArgument, e.what());
  }
  return {};
}

bool IsSecretKey(const std::string& key) {
  return (key.find("password") != std::string::npos || key.find("secret") != std::string::npos ||
          key.find("token") != std::string::npos) &&
         !key.ends_with("_file");
}

std::string Quote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    if (c == '\t') {
      out += "\\t";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// The value as the file would hold it: numbers and booleans bare, everything else quoted.
std::string FileValue(const std::string& text) {
  if (text == "true" || text == "false") return text;
  // A number only when strtod reads all of it: a NUL byte would end c_str() early (found by
  // fuzz/config_file_fuzzer.cc: "\0 a\nb" was written bare, the newline breaking the file), and
  // leading spaces, which strtod skips, would be trimmed away when the file is read.
  char* end = nullptr;
  if (!text.empty() && !std::isspace(static_cast<unsigned char>(text.front()))) {
    std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() && text.find_first_of("xXnN") == std::string::npos)
      return text;
  }
  return Quote(text);
}

}  // namespace

std::string ConfigKey(const CLI::Option& option) {
  std::string key = option.get_lnames().empty() ? option.get_name() : option.get_lnames().front();
  for (char& c : key)
    if (c == '-') c = '_';
  return key;
}

std::string ConfigEnvName(const std::string& key) {
  std::string name = "PNEUMO_";
  for (char c : key) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

std::string MaskUrlPassword(const std::string& text) {
  const auto scheme = text.find("://");
  if (scheme == std::string::npos) return text;
  const auto at = text.rfind('@');
  if (at == std::string::npos || at < scheme) return text;
  const auto colon = text.find(':', scheme + 3);
  if (colon == std::string::npos || colon > at) return text;
  return text.substr(0, colon + 1) + "***" + text.substr(at);
}

Result<ConfigOrigins> ApplyConfig(CLI::App& cmd, const ConfigRequest& request) {
  std::map<std::string, FileSetting> file;
  if (!request.file.empty()) {
    std::error_code ec;
    const bool exists = fs::exists(request.file, ec);
    // Not "absent": a default file that cannot be looked at must not be skipped silently.
    if (ec)
      return Fail(ErrorCode::kIoError,
                  "cannot look at config file " + request.file.string() + ": " + ec.message());
    if (exists) {
      auto read = ReadConfigFile(request.file, request.section);
      if (!read) return std::unexpected(read.error());
      file = std::move(*read);
    } else if (request.required) {
      return Fail(ErrorCode::kNotFound, "config file " + request.file.string() + " not found");
    }
  }
  std::map<std::string, CLI::Option*> options;
  for (CLI::Option* option : cmd.get_options()) {
    if (option->get_lnames().empty()) continue;  // help's -h is also --help; positionals skip
    const std::string key = ConfigKey(*option);
    if (!request.skip.contains(key)) options[key] = option;
  }
  for (const auto& [key, setting] : file) {
    if (options.contains(key)) continue;
    std::string known;
    for (const auto& [name, option] : options) known += (known.empty() ? "" : ", ") + name;
    return Fail(ErrorCode::kInvalidArgument, request.file.string() + ":" +
                                                 std::to_string(setting.line) + ": unknown key '" +
                                                 key + "' (known keys: " + known + ")");
  }
  ConfigOrigins origins;
  for (auto& [key, option] : options) {
    const std::string env_name = ConfigEnvName(key);
    const char* env = std::getenv(env_name.c_str());
    if (env && *env) {
      const bool typed = option->count() > 0;
      if (auto set = SetFromText(*option, env); !set)
        return Fail(ErrorCode::kInvalidArgument,
                    "environment variable " + env_name + ": " + set.error().message);
      origins[key] = "$" + env_name + (typed ? std::string(kOverCommandLine) : "");
    } else if (option->count() > 0) {
      origins[key] = "command line";
    } else if (auto it = file.find(key); it != file.end()) {
      const std::string where = request.file.string() + ":" + std::to_string(it->second.line);
      if (auto set = SetFromText(*option, it->second.value); !set)
        return Fail(ErrorCode::kInvalidArgument,
                    where + ": key '" + key + "': " + set.error().message);
      origins[key] = where;
    } else {
      origins[key] = "default";
    }
  }
  return origins;
}

std::string FormatConfig(const CLI::App& cmd, const ConfigRequest& request,
                         const ConfigOrigins& origins) {
  std::ostringstream out;
  out << "# pneumo " << cmd.get_name() << ": merged settings (environment > command line > "
      << (request.file.empty() ? std::string("file") : request.file.string()) << " > defaults)\n";
  if (!request.section.empty()) out << "[" << request.section << "]\n";
  for (const CLI::Option* option : cmd.get_options()) {
    if (option->get_lnames().empty()) continue;
    const std::string key = ConfigKey(*option);
    if (request.skip.contains(key)) continue;
    std::string value;
    if (option->count() > 0) {
      // A list option (e.g. CIDR,CIDR) keeps every value, comma-joined as it is typed.
      for (const std::string& result : option->results())
        value += (value.empty() ? "" : ",") + result;
      if (IsFlag(*option)) value = option->as<bool>() ? "true" : "false";
    } else {
      value = option->get_default_str();
      if (IsFlag(*option) && value.empty()) value = "false";
    }
    if (IsSecretKey(key) && !value.empty()) value = "***";
    value = MaskUrlPassword(value);
    const auto origin = origins.find(key);
    out << "\n# " << option->get_description() << "\n"
        << key << " = " << FileValue(value) << "  # "
        << (origin == origins.end() ? "default" : origin->second) << "\n";
  }
  return out.str();
}

// The Redis password from --store-password(-file) joined into a redis:// URL that has none.
Result<std::string> StoreUrlWithPassword(const std::string& store,
                                         const std::string& store_password,
                                         const fs::path& store_password_file) {
  if (store_password.empty() && store_password_file.empty()) return store;
  if (!store_password.empty() && !store_password_file.empty())
    return Fail(ErrorCode::kInvalidArgument,
                "give the store password once: store_password or store_password_file");
  if (!store.starts_with("redis://"))
    return Fail(ErrorCode::kInvalidArgument,
                "a store password is only for a redis:// store (--store is '" +
                    MaskUrlPassword(store) + "')");
  const std::string rest = store.substr(8);
  if (rest.substr(0, rest.find('/')).find('@') != std::string::npos)
    return Fail(ErrorCode::kInvalidArgument,
                "--store already holds a password and a store password was given as well");
  std::string password = store_password;
  if (!store_password_file.empty()) {
    std::ifstream in(store_password_file);
    if (!in)
      return Fail(ErrorCode::kIoError,
                  "cannot read the store password file " + store_password_file.string());
    std::getline(in, password);
    while (!password.empty() && std::isspace(static_cast<unsigned char>(password.back())))
      password.pop_back();
    if (password.empty())
      return Fail(ErrorCode::kInvalidArgument,
                  "the store password file " + store_password_file.string() + " is empty");
  }
  return "redis://:" + password + "@" + rest;
}

}  // namespace pneumo::app
