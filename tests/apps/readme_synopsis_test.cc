// The README's synopsis of each subcommand must say what its --help says: every flag it shows
// exists, with the default it shows, and `pneumo serve`'s synopsis lists every flag.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace pneumo {
namespace {

std::string Run(const std::string& command) {
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  pclose(pipe);
  return out;
}

// Flag -> default ("" when --help shows none). CLI11 writes "  --name TYPE=default" and then,
// after two spaces or on the next line, the description.
std::map<std::string, std::string> HelpFlags(const std::string& subcommand) {
  const std::string help = Run(std::string(PNEUMO_BINARY) + " " + subcommand + " --help");
  std::map<std::string, std::string> flags;
  const std::regex name(R"(^\s+(?:-\w,)?(--[a-z0-9-]+))");
  std::istringstream in(help);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (!std::regex_search(l, m, name)) continue;
    const std::size_t after = static_cast<std::size_t>(m.position(1) + m.length(1));
    const std::string spec = l.substr(after, l.find("  ", after) - after);
    const std::size_t equals = spec.rfind('=');
    // A long spec meets its description after one space: the default is one word.
    flags[m[1]] = equals == std::string::npos
                      ? ""
                      : spec.substr(equals + 1, spec.find(' ', equals) - equals - 1);
    // The other names of a flag ("--accounts,--no-accounts{false}=true") are flags too.
    static const std::regex alias(R"(,(--[a-z0-9-]+))");
    for (std::sregex_iterator it(spec.begin(), spec.end(), alias), end; it != end; ++it)
      flags[(*it)[1]] = "";
  }
  return flags;
}

// Flag -> the value the README shows after it ("" for none or a placeholder such as DIR).
using Synopsis = std::map<std::string, std::string>;

std::map<std::string, Synopsis> ReadmeSynopses() {
  std::ifstream file(std::string(PNEUMO_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << file.rdbuf();
  std::map<std::string, Synopsis> out;
  const std::regex heading(R"(^### `pneumo ([a-z]+)(.*)`\s*$)");
  const std::regex command(R"(^build/pneumo ([a-z]+(?: [a-z]+)?) (.*)$)");
  const std::regex flag(R"((--[a-z0-9-]+)(?: ([^\]\s]+))?)");
  std::istringstream in(text.str());
  std::string current;  // the subcommand whose synopsis continues on the next lines
  auto add = [&](const std::string& sub, const std::string& rest) {
    Synopsis& synopsis = out[sub];
    for (std::sregex_iterator it(rest.begin(), rest.end(), flag), end; it != end; ++it) {
      std::string value = (*it)[2];
      const bool placeholder = value.empty() || value.starts_with("--") ||
                               value.find('|') != std::string::npos ||
                               std::regex_match(value, std::regex(R"([A-Z|.:]+)"));
      synopsis[(*it)[1]] = placeholder ? "" : value;
    }
  };
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, heading)) {
      add(m[1], m[2]);
      current.clear();
    } else if (std::regex_match(l, m, command)) {
      add(m[1], m[2].str().substr(0, m[2].str().find('#')));
      current = m[1];
    } else if (!current.empty() && std::regex_search(l, std::regex(R"(^\s+\[--)"))) {
      add(current, l);
    } else {
      current.clear();
    }
  }
  return out;
}

TEST(ReadmeSynopsis, EveryFlagItShowsExistsWithTheDefaultItShows) {
  const auto synopses = ReadmeSynopses();
  for (const std::string sub :
       {"serve", "train", "predict", "evaluate", "calibrate", "model publish"})
    EXPECT_TRUE(synopses.contains(sub)) << "the README has no synopsis of pneumo " << sub;
  for (const auto& [sub, synopsis] : synopses) {
    SCOPED_TRACE("pneumo " + sub);
    const auto help = HelpFlags(sub);
    ASSERT_FALSE(help.empty()) << "no flags in pneumo " << sub << " --help";
    for (const auto& [name, value] : synopsis) {
      auto it = help.find(name);
      if (it == help.end()) {
        ADD_FAILURE() << "the README shows " << name << ", which --help does not list";
        continue;
      }
      // A value written in brackets is the default: [--max-batch 8].
      if (!value.empty() && !it->second.empty())
        EXPECT_EQ(value, it->second) << name << ": README and --help disagree on the default";
    }
  }
}

TEST(ReadmeSynopsis, ServesSynopsisListsEveryFlag) {
  const auto synopsis = ReadmeSynopses()["serve"];
  for (const auto& [name, value] : HelpFlags("serve")) {
    if (name == "--help" || name == "--accounts")
      continue;  // on by default: shown as --no-accounts
    EXPECT_TRUE(synopsis.contains(name)) << "the README's pneumo serve synopsis lacks " << name;
  }
}

}  // namespace
}  // namespace pneumo
