// Internal to topology/: reading TOML tables into the model while collecting diagnostics.
// A TableReader is made per TOML table; every key it is asked for is marked known, and
// finish() reports the rest as unknown keys with a did-you-mean.
#pragma once

#include <toml++/toml.h>

#include <set>
#include <string>
#include <vector>

#include "topology/load.h"

namespace vnet::topology::detail {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}
  SourceLoc loc(const toml::source_region& r) const {
    return SourceLoc{file_, r.begin.line, r.begin.column};
  }
  SourceLoc loc(const toml::node& n) const { return loc(n.source()); }
  void error(const SourceLoc& at, std::string message) {
    list_.push_back({at, std::move(message), ""});
  }
  const std::string& file() const { return file_; }
  std::vector<Diagnostic>& list() { return list_; }

 private:
  std::string file_;
  std::vector<Diagnostic> list_;
};

// The closest of `candidates` to `word` by edit distance, if close enough to suggest.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);
const char* type_name(const toml::node& n);
// "vlan id 5000 out of range 1..4094" ('KEY' when `what` is empty).
std::string range_message(const std::string& what, const std::string& key, int64_t v, int64_t lo, int64_t hi);

class TableReader {
 public:
  // `where` names the table in messages: "[bridges.br0]".
  TableReader(const toml::table& t, std::string where, Diagnostics& d)
      : table_(t), where_(std::move(where)), d_(d) {}

  SourceLoc loc() const { return d_.loc(table_); }
  const std::string& where() const { return where_; }
  const toml::node* get(const std::string& key);  // marks known; nullptr if absent
  bool has(const std::string& key) const { return table_.contains(key); }

  std::optional<std::string> string(const std::string& key);
  std::optional<bool> boolean(const std::string& key);
  // Integer in [lo, hi]; `what` names the value in range errors ("vlan id", "mtu").
  std::optional<int64_t> integer(const std::string& key, int64_t lo, int64_t hi,
                                 const std::string& what = "");
  std::optional<std::vector<std::string>> strings(const std::string& key);
  // Array of integers, each checked like integer(); `out_locs` gets each element's place.
  std::optional<std::vector<int64_t>> integers(const std::string& key, int64_t lo, int64_t hi,
                                               const std::string& what,
                                               std::vector<SourceLoc>* out_locs = nullptr);
  const toml::table* table(const std::string& key);
  SourceLoc loc_of(const std::string& key) const;  // the value's place, else the table's
  void required(const std::string& key);            // error if absent
  void finish();                                    // report unknown keys

  void error(const SourceLoc& at, std::string message) { d_.error(at, std::move(message)); }
  Diagnostics& diags() { return d_; }

 private:
  bool expect_type(const toml::node& n, const std::string& key, toml::node_type want);
  const toml::table& table_;
  std::string where_;
  Diagnostics& d_;
  std::set<std::string> known_;
};

}  // namespace vnet::topology::detail
