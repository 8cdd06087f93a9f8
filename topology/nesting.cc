// A small TOML lexer that knows only what nests: comments and strings (skipped), table
// headers and keys (counted per dotted segment), arrays and inline tables (counted per
// bracket). Depth at a point = the segments of the table header in effect + for each open
// array or inline table, the segments of the key that opened it plus one + the segments
// of the key being read. Syntax errors are left to tomlplusplus: on anything it cannot
// follow (an unterminated string), the scan just stops.
#include "topology/nesting.h"

#include <vector>

namespace vnet::topology {
namespace {

class Scanner {
 public:
  explicit Scanner(std::string_view t) : t_(t) {}

  std::optional<NestingProblem> run() {
    enum class Ctx { kLineStart, kKey, kHeader, kValue } ctx = Ctx::kLineStart;
    int header = 0;  // segments of the table header in effect
    int key = 0;     // segments of the key being read, or whose value is being read
    struct Open {
      char bracket;
      int adds;
    };
    std::vector<Open> open;
    int open_depth = 0;
    while (i_ < t_.size()) {
      if (header + open_depth + key > kMaxNesting) return problem();
      char c = t_[i_];
      if (c == '\n' && open.empty()) {
        ctx = Ctx::kLineStart;
        key = 0;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        advance();
        continue;
      }
      if (c == '#') {
        while (i_ < t_.size() && t_[i_] != '\n') advance();
        continue;
      }
      if (ctx == Ctx::kLineStart) {
        if (c == '[') {
          ctx = Ctx::kHeader;
          header = 1;
          advance();
          if (i_ < t_.size() && t_[i_] == '[') advance();
        } else {
          ctx = Ctx::kKey;
          key = 1;
        }
        continue;
      }
      if (c == '"' || c == '\'') {
        if (!skip_string()) return std::nullopt;
        continue;
      }
      if (ctx == Ctx::kHeader || ctx == Ctx::kKey) {
        if (c == '.') ++(ctx == Ctx::kHeader ? header : key);
        if ((ctx == Ctx::kHeader && c == ']') || (ctx == Ctx::kKey && c == '=')) ctx = Ctx::kValue;
        advance();
        continue;
      }
      // a value
      if (c == '[' || c == '{') {
        open.push_back({c, key + 1});
        open_depth += key + 1;
        key = c == '{' ? 1 : 0;
        if (c == '{') ctx = Ctx::kKey;
      } else if ((c == ']' || c == '}') && !open.empty()) {
        open_depth -= open.back().adds;
        open.pop_back();
        key = 0;
      } else if (c == ',' && !open.empty()) {
        key = open.back().bracket == '{' ? 1 : 0;
        if (open.back().bracket == '{') ctx = Ctx::kKey;
      }
      advance();
    }
    return std::nullopt;
  }

 private:
  void advance() {
    if (t_[i_] == '\n') {
      ++line_;
      line_start_ = i_ + 1;
    }
    ++i_;
  }
  NestingProblem problem() const {
    return {line_, static_cast<uint32_t>(i_ - line_start_ + 1),
            "nested more than " + std::to_string(kMaxNesting) +
                " levels deep (table headers, dotted keys, arrays and inline tables together); "
                "host.toml needs fewer than 8"};
  }
  // Skips a basic, literal or multi-line string starting at i_; false if unterminated.
  bool skip_string() {
    const char q = t_[i_];
    const std::string three(3, q);
    const bool multi = t_.substr(i_, 3) == three;
    for (int k = 0; k < (multi ? 3 : 1); ++k) advance();
    while (i_ < t_.size()) {
      char c = t_[i_];
      if (c == '\\' && q == '"') {
        advance();
        if (i_ < t_.size()) advance();
        continue;
      }
      if (!multi && c == '\n') return false;
      if (c == q && (!multi || t_.substr(i_, 3) == three)) {
        for (int k = 0; k < (multi ? 3 : 1); ++k) advance();
        return true;
      }
      advance();
    }
    return false;
  }

  std::string_view t_;
  size_t i_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
};

}  // namespace

std::optional<NestingProblem> nesting_problem(std::string_view text) { return Scanner(text).run(); }

}  // namespace vnet::topology
