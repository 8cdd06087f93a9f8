// `vnet scenario`: not built yet (see the open issues); says so and exits 3 rather than
// pretending.
#include "cli/verbs.h"

namespace vnet::cli {

int verb_scenario(const Invocation&) {
  return report(3, "scenario: not built yet in this version of vnet");
}

}  // namespace vnet::cli
