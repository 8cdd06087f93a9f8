#include "vmrun/command.h"

namespace vnet::vmrun {

std::string shell_quote(std::string_view s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'')
      q += "'\\''";
    else
      q += c;
  }
  q += "'";
  return q;
}

std::string command_script(const GuestCommand& cmd, const std::string& ctl) {
  std::string qctl = shell_quote(ctl);
  std::string s = "# written by vnet vm-run\n";
  s += "cd -- " + shell_quote(cmd.cwd) + " || { echo " +
       shell_quote("cannot enter the working directory " + cmd.cwd) + " > " + qctl +
       "/error; exit 0; }\n";
  // `env -i -- NAME=VALUE... PROG ARGS...`: `--` first, so a program named "-x" is not
  // an option; a program name with '=' would read as an assignment, so it goes
  // through sh -c 'exec "$@"' instead.
  s += "env -i --";
  for (const auto& e : cmd.env)
    if (e.find('=') != std::string::npos && e.front() != '=') s += " " + shell_quote(e);
  if (!cmd.argv.empty() && cmd.argv[0].find('=') != std::string::npos)
    s += " /bin/sh -c 'exec \"$@\"' sh";
  for (const auto& a : cmd.argv) s += " " + shell_quote(a);
  s += " < /dev/null > " + qctl + "/stdout 2> " + qctl + "/stderr\n";
  s += "echo $? > " + qctl + "/status\n";
  return s;
}

}  // namespace vnet::vmrun
