#include "topology/reader.h"

#include <algorithm>

#include "base/text.h"

namespace vnet::topology::detail {


std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

const char* type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

const toml::node* TableReader::get(const std::string& key) {
  known_.insert(key);
  return table_.get(key);
}

SourceLoc TableReader::loc_of(const std::string& key) const {
  if (const toml::node* n = table_.get(key)) return d_.loc(*n);
  return loc();
}

bool TableReader::expect_type(const toml::node& n, const std::string& key,
                              toml::node_type want) {
  if (n.type() == want) return true;
  const char* want_name = want == toml::node_type::string    ? "a string"
                          : want == toml::node_type::integer ? "an integer"
                          : want == toml::node_type::boolean ? "a boolean"
                          : want == toml::node_type::array   ? "an array"
                                                             : "a table";
  d_.error(d_.loc(n),
           "'" + key + "' must be " + want_name + ", not " + type_name(n));
  return false;
}

std::optional<std::string> TableReader::string(const std::string& key) {
  const toml::node* n = get(key);
  if (!n || !expect_type(*n, key, toml::node_type::string)) return std::nullopt;
  return n->value<std::string>();
}

std::optional<bool> TableReader::boolean(const std::string& key) {
  const toml::node* n = get(key);
  if (!n || !expect_type(*n, key, toml::node_type::boolean)) return std::nullopt;
  return n->value<bool>();
}

std::string range_message(const std::string& what, const std::string& key, int64_t v,
                                 int64_t lo, int64_t hi) {
  return (what.empty() ? "'" + key + "'" : what) + " " + std::to_string(v) +
         " out of range " + std::to_string(lo) + ".." + std::to_string(hi);
}

std::optional<int64_t> TableReader::integer(const std::string& key, int64_t lo, int64_t hi,
                                            const std::string& what) {
  const toml::node* n = get(key);
  if (!n || !expect_type(*n, key, toml::node_type::integer)) return std::nullopt;
  int64_t v = *n->value<int64_t>();
  if (v < lo || v > hi) {
    d_.error(d_.loc(*n), range_message(what, key, v, lo, hi));
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<std::string>> TableReader::strings(const std::string& key) {
  const toml::node* n = get(key);
  if (!n || !expect_type(*n, key, toml::node_type::array)) return std::nullopt;
  std::vector<std::string> out;
  bool ok = true;
  for (const toml::node& e : *n->as_array()) {
    if (!e.is_string()) {
      d_.error(d_.loc(e), "elements of '" + key + "' must be strings, not " + type_name(e));
      ok = false;
      continue;
    }
    out.push_back(*e.value<std::string>());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<int64_t>> TableReader::integers(const std::string& key, int64_t lo,
                                                          int64_t hi, const std::string& what,
                                                          std::vector<SourceLoc>* out_locs) {
  const toml::node* n = get(key);
  if (!n || !expect_type(*n, key, toml::node_type::array)) return std::nullopt;
  std::vector<int64_t> out;
  bool ok = true;
  for (const toml::node& e : *n->as_array()) {
    if (!e.is_integer()) {
      d_.error(d_.loc(e), "elements of '" + key + "' must be integers, not " + type_name(e));
      ok = false;
      continue;
    }
    int64_t v = *e.value<int64_t>();
    if (v < lo || v > hi) {
      d_.error(d_.loc(e), range_message(what, key, v, lo, hi));
      ok = false;
      continue;
    }
    out.push_back(v);
    if (out_locs) out_locs->push_back(d_.loc(e));
  }
  if (!ok) return std::nullopt;
  return out;
}

const toml::table* TableReader::table(const std::string& key) {
  const toml::node* n = get(key);
  if (!n || !expect_type(*n, key, toml::node_type::table)) return nullptr;
  return n->as_table();
}

void TableReader::required(const std::string& key) {
  known_.insert(key);
  if (!table_.contains(key)) d_.error(loc(), "'" + key + "' is required in " + where_);
}

void TableReader::finish() {
  std::vector<std::string> candidates(known_.begin(), known_.end());
  for (auto&& [k, v] : table_) {
    std::string key(k.str());
    if (known_.count(key)) continue;
    std::string msg = "unknown key '" + key + "' in " + where_;
    std::string near = did_you_mean(key, candidates);
    if (!near.empty()) msg += "; did you mean '" + near + "'?";
    d_.error(d_.loc(k.source()), msg);
  }
}

}  // namespace vnet::topology::detail
