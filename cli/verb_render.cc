// `vnet render`: not built yet (see the open issues); says so and exits 3 rather than
// pretending.
#include "cli/verbs.h"

namespace vnet::cli {

int verb_render(const Invocation&) {
  return report(3, "render: not built yet in this version of vnet");
}

}  // namespace vnet::cli
