// docs/tutorial.md, run as written: each ```toml NAME block is written to NAME, each line
// of each ```sh block runs in order (comments aside) and must exit 0 ("! cmd" lines
// assert a failure). Everything runs inside a namespace of the test's own, so that even
// outside `vnet vm-run` the tutorial's bridge never lands in the machine's namespace.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/common/process.h"

namespace vnet::testing {
namespace {

namespace fs = std::filesystem;

struct Tutorial {
  std::vector<std::pair<std::string, std::string>> files;  // name, content
  std::vector<std::string> commands;
};

Tutorial parse(const std::string& markdown) {
  Tutorial t;
  std::istringstream in(markdown);
  std::string line, fence, body;
  for (bool inside = false; std::getline(in, line);) {
    if (!inside && line.rfind("```", 0) == 0 && line.size() > 3) {
      inside = true;
      fence = line.substr(3);
      body.clear();
    } else if (inside && line == "```") {
      inside = false;
      if (fence.rfind("toml ", 0) == 0) t.files.emplace_back(fence.substr(5), body);
      if (fence == "sh") {
        std::istringstream cmds(body);
        for (std::string c; std::getline(cmds, c);)
          if (!c.empty() && c[0] != '#') t.commands.push_back(c);
      }
    } else if (inside) {
      body += line + "\n";
    }
  }
  return t;
}

TEST(Tutorial, EveryCommandRunsAsWritten) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: the tutorial builds a bridge";
  std::ifstream in(std::string(VNET_SOURCE_DIR) + "/docs/tutorial.md");
  std::stringstream md;
  md << in.rdbuf();
  Tutorial t = parse(md.str());
  ASSERT_EQ(t.files.size(), 1u);
  ASSERT_GE(t.commands.size(), 15u);

  std::string ns = "vnet-tutorial-" + std::to_string(getpid());
  ASSERT_EQ(sh("ip netns add " + ns).exit_code, 0);
  struct Cleanup {
    std::string ns;
    ~Cleanup() {
      sh("ip netns del " + ns + "; for n in web db iso; do ip netns del $n 2>/dev/null; done; true");
    }
  } cleanup{ns};
  if (sh("ip netns exec " + ns + " ip link add name vnprobe0 type bridge vlan_filtering 1").exit_code != 0)
    GTEST_SKIP() << "this kernel has no bridge VLAN filtering: the kernel tier runs it under `vnet vm-run`";
  sh("ip netns exec " + ns + " ip link del vnprobe0");

  char tmpl[] = "/tmp/vnet-tutorial-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  for (const auto& [name, content] : t.files) std::ofstream(dir + "/" + name) << content;
  std::string path = fs::path(VNET_BINARY).parent_path().string() + ":" + getenv("PATH");
  for (const std::string& c : t.commands) {
    // nsenter, not `ip netns exec`: that one runs in a mount namespace of its own, where
    // the namespaces the tutorial creates would be mounted and lost at its exit
    auto r = run({"nsenter", "--net=/run/netns/" + ns, "env", "PATH=" + path, "bash", "-o", "pipefail", "-c", c}, dir);
    ASSERT_EQ(r.exit_code, 0) << "docs/tutorial.md: `" << c << "` exited " << r.exit_code << "\n"
                              << r.out << r.err;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace vnet::testing
