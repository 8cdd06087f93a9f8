// How CMD travels into the guest: not on the kernel command line but as a shell script
// on the control share, with every argument and environment entry single-quoted (any
// byte but NUL survives: inside '...' the shell interprets nothing, and a ' is written
// as '\''). The guest's /init runs it with the host's /bin/sh after chroot.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vnet::vmrun {

// 'text' quoted for a POSIX shell, e.g. it's -> 'it'\''s'.
std::string shell_quote(std::string_view s);

struct GuestCommand {
  std::vector<std::string> argv;  // argv[0] looked up on the command's own PATH
  std::vector<std::string> env;   // "NAME=VALUE"; exactly this environment
  std::string cwd;
};

// The script: enter cwd, run argv under `env -i` with stdin /dev/null and stdout,
// stderr into ctl_dir/stdout and ctl_dir/stderr, then write the exit status (as a shell
// reports it: 127 not found, 126 not executable, 128+N killed by signal N) to
// ctl_dir/status. A setup failure goes to ctl_dir/error instead.
std::string command_script(const GuestCommand& cmd, const std::string& ctl_dir);

}  // namespace vnet::vmrun
