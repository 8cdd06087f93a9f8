#include "topology/load.h"
namespace vnet::topology {
LoadResult load_file(const std::string& path, const LoadOptions&) {
  return tl::unexpected(std::vector<Diagnostic>{{SourceLoc{path}, "loader not written yet", ""}});
}
}  // namespace vnet::topology
