// load(): read the file, run the three passes, and either return the model or every
// diagnostic in source order. Also the text form of diagnostics (ninja/gcc style).
#include "topology/load.h"

#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <map>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/text.h"
#include "topology/nesting.h"
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

// A link comes after the described link it sits on (a vlan after its bond, a vxlan after
// its vlan), else in declaration order: the planner creates them in this order. A cycle
// is left as written; the planner refuses it (a parent that does not exist yet).
void order_by_lower(std::vector<KindLink>& links) {
  std::map<std::pair<std::string, std::string>, size_t> by_name;  // (netns, name)
  for (size_t i = 0; i < links.size(); ++i) by_name.try_emplace({links[i].netns, links[i].name}, i);
  std::vector<char> seen(links.size(), 0);
  std::vector<size_t> order;
  order.reserve(links.size());
  std::function<void(size_t)> visit = [&](size_t i) {
    if (seen[i]) return;
    seen[i] = 1;
    std::string lower = links[i].lower();
    if (!lower.empty()) {
      auto it = by_name.find({links[i].netns, lower});
      if (it == by_name.end()) it = by_name.find({"", lower});
      if (it != by_name.end()) visit(it->second);
    }
    order.push_back(i);
  };
  for (size_t i = 0; i < links.size(); ++i) visit(i);
  std::vector<KindLink> sorted;
  sorted.reserve(links.size());
  for (size_t i : order) sorted.push_back(std::move(links[i]));
  links = std::move(sorted);
}

}  // namespace

LoadResult load_string(const std::string& text, const std::string& file,
                       const LoadOptions& options) {
  detail::Diagnostics d(file);
  if (auto deep = nesting_problem(text)) {
    d.error(SourceLoc{file, deep->line, deep->col}, deep->message);
    return tl::unexpected(std::move(d.list()));
  }
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
    sort_by_place(t.veths);
    sort_by_place(t.taps);
    sort_by_place(t.kind_links);
    order_by_lower(t.kind_links);
    sort_by_place(t.switches);
    sort_by_place(t.guests);
    for (Switch& sw : t.switches) sort_by_place(sw.ports);
  };
  sort_all();
  detail::expand_guests(d, t);
  detail::expand_members(d, t);
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

namespace {

// The bytes of `path`, at most kMaxFileBytes; what is wrong with the path otherwise.
tl::expected<std::string, std::string> read_bounded(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return tl::unexpected(std::string(strerror(errno)));
  if (S_ISDIR(st.st_mode)) return tl::unexpected(std::string("is a directory, not a host.toml file"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected(std::string(strerror(errno)));
  // grown as read, not allocated at the bound: zero-filling 16 MiB cost every command
  // 20 ms of page faults
  std::string text;
  char chunk[64 * 1024];
  while (text.size() <= kMaxFileBytes && in.read(chunk, sizeof chunk).gcount() > 0)
    text.append(chunk, static_cast<size_t>(in.gcount()));
  if (in.bad()) return tl::unexpected(std::string(strerror(errno)));
  if (text.size() > kMaxFileBytes)
    return tl::unexpected("larger than " + std::to_string(kMaxFileBytes >> 20) +
                          " MiB; a host.toml of thousands of links is a few hundred KiB");
  return text;
}

}  // namespace

LoadResult load_file(const std::string& path, const LoadOptions& options) {
  auto text = read_bounded(path);
  if (!text)
    return tl::unexpected(
        std::vector<Diagnostic>{{SourceLoc{path, 0, 0}, "cannot read file: " + text.error(), ""}});
  return load_string(*text, path, options);
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
    // Everything here may hold bytes from the file: escaped, so none reaches the terminal.
    out += printable(dg.loc.str()) + ": error: " + printable(dg.message);
    if (!dg.hint.empty()) out += "; " + printable(dg.hint);
    out += "\n";
    if (dg.loc.line >= 1 && dg.loc.line <= lines.size()) {
      // A long line shows as a window around the spot (a file may be one 80 KB line).
      const std::string& line = lines[dg.loc.line - 1];
      size_t col = std::min<size_t>(dg.loc.col ? dg.loc.col - 1 : 0, line.size());
      size_t from = col > 100 ? col - 60 : 0;
      std::string lead = from ? "..." : "";
      std::string shown = lead + line.substr(from, 160) + (from + 160 < line.size() ? "..." : "");
      std::string num = std::to_string(dg.loc.line);
      out += " " + num + " | " + printable(shown, true) + "\n";
      std::string before = printable(lead + line.substr(from, col - from), true);
      std::string pad;
      // Carets line up under tabs too.
      for (char c : before) pad += c == '\t' ? '\t' : ' ';
      out += " " + std::string(num.size(), ' ') + " | " + pad + "^\n";
    }
  }
  return out;
}

std::string format_file_diagnostics(const std::vector<Diagnostic>& diags, const std::string& path) {
  auto text = read_bounded(path);
  return format_diagnostics(diags, text ? *text : std::string()) + printable(path) + ": " + std::to_string(diags.size()) +
         (diags.size() == 1 ? " error\n" : " errors\n");
}

}  // namespace vnet::topology
