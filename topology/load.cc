// load(): read the file, run the three passes, and either return the model or every
// diagnostic in source order. Also the text form of diagnostics (ninja/gcc style).
#include "topology/load.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "topology/parse.h"

namespace vnet::topology {

namespace {

bool by_place(const SourceLoc& a, const SourceLoc& b) {
  return std::tie(a.line, a.col) < std::tie(b.line, b.col);
}

template <class T>
void sort_by_place(std::vector<T>& v) {
  std::stable_sort(v.begin(), v.end(), [](const T& a, const T& b) { return by_place(a.loc, b.loc); });
}

}  // namespace

LoadResult load_string(const std::string& text, const std::string& file,
                       const LoadOptions& options) {
  detail::Diagnostics d(file);
  toml::table root;
  try {
    root = toml::parse(std::string_view(text), std::string_view(file));
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    d.error(d.loc(e.source()), what);
    return tl::unexpected(std::move(d.list()));
  }
  Topology t;
  t.file = file;
  detail::read_document(root, d, options, t);
  // TOML tables iterate by key; the model keeps declaration order, and guests expand in it.
  auto sort_all = [&] {
    sort_by_place(t.bridges);
    sort_by_place(t.links);
    sort_by_place(t.vlans);
    sort_by_place(t.veths);
    sort_by_place(t.taps);
    sort_by_place(t.macvlans);
    sort_by_place(t.switches);
    sort_by_place(t.guests);
    for (Switch& sw : t.switches) sort_by_place(sw.ports);
  };
  sort_all();
  detail::expand_guests(d, t);
  sort_all();
  detail::validate(d, t);
  if (!d.list().empty()) {
    auto list = std::move(d.list());
    std::stable_sort(list.begin(), list.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return by_place(a.loc, b.loc); });
    return tl::unexpected(std::move(list));
  }
  return t;
}

LoadResult load_file(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return tl::unexpected(std::vector<Diagnostic>{
        {SourceLoc{path, 0, 0}, "cannot read file: " + std::string(strerror(errno)), ""}});
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_string(ss.str(), path, options);
}

std::string format_diagnostics(const std::vector<Diagnostic>& diags, const std::string& source) {
  std::vector<std::string> lines;
  {
    std::stringstream ss(source);
    std::string line;
    while (std::getline(ss, line)) lines.push_back(line);
  }
  std::string out;
  for (const Diagnostic& dg : diags) {
    out += dg.loc.str() + ": error: " + dg.message;
    if (!dg.hint.empty()) out += "; " + dg.hint;
    out += "\n";
    if (dg.loc.line >= 1 && dg.loc.line <= lines.size()) {
      std::string text = lines[dg.loc.line - 1];
      std::string num = std::to_string(dg.loc.line);
      out += " " + num + " | " + text + "\n";
      std::string pad;
      // Carets line up under tabs too.
      for (uint32_t i = 1; i < dg.loc.col && i - 1 < text.size(); ++i)
        pad += text[i - 1] == '\t' ? '\t' : ' ';
      out += " " + std::string(num.size(), ' ') + " | " + pad + "^\n";
    }
  }
  return out;
}

std::string format_file_diagnostics(const std::vector<Diagnostic>& diags, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return format_diagnostics(diags, text.str()) + path + ": " + std::to_string(diags.size()) +
         (diags.size() == 1 ? " error\n" : " errors\n");
}

}  // namespace vnet::topology
