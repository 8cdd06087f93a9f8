#include "cli/verbs.h"
namespace vnet::cli {
int verb_check(const Invocation&) { return report(3, "check: not built yet"); }
}  // namespace vnet::cli
