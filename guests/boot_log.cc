#include "guests/boot_log.h"

namespace vnet::guests {
namespace {

enum class Marker { kNone, kFirmware, kKernel, kRestart };

// A line without the CSI/ESC sequences and carriage returns a serial console puts
// before text (SeaBIOS's sercon clears the screen; a reboot leaves a cursor reset).
std::string_view skip_noise(std::string_view line) {
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == '\r') {
      ++i;
    } else if (line[i] == '\x1b') {
      ++i;
      if (i < line.size() && line[i] == '[') {
        ++i;
        while (i < line.size() && !(line[i] >= 0x40 && line[i] <= 0x7e)) ++i;  // params
      }
      if (i < line.size()) ++i;  // the final byte
    } else {
      break;
    }
  }
  return line.substr(i);
}

Marker marker(std::string_view line) {
  line = skip_noise(line);
  if (line.starts_with("SeaBIOS (version ")) return Marker::kFirmware;
  if (line.starts_with("[    0.000000] Linux version ")) return Marker::kKernel;
  // The last words of a kernel that resets the machine, printed even with `quiet`
  // (pr_emerg): "reboot: Restarting system" (reboot(2)), "Rebooting in N seconds.."
  // (panic=N). Only after a printk timestamp, for the same reason as above.
  if (line.starts_with("[")) {
    size_t close = line.find("] ");
    if (close != std::string_view::npos) {
      std::string_view msg = line.substr(close + 2);
      if (msg.starts_with("reboot: Restarting system") || msg.starts_with("Rebooting in "))
        return Marker::kRestart;
    }
  }
  return Marker::kNone;
}

}  // namespace

size_t last_boot_offset(std::string_view log) {
  size_t boot = 0;
  Marker prev = Marker::kNone;
  size_t pos = 0;
  while (pos < log.size()) {
    size_t end = log.find('\n', pos);
    size_t next = end == std::string_view::npos ? log.size() : end + 1;
    Marker m = marker(log.substr(pos, next - pos));
    // A kernel banner after a firmware banner or a restart is that boot's kernel, and
    // what a restart is followed by (firmware, boot loader) is the next boot already.
    if (m == Marker::kFirmware) boot = pos;
    else if (m == Marker::kKernel && (prev == Marker::kNone || prev == Marker::kKernel))
      boot = pos;
    else if (m == Marker::kRestart) boot = next;
    if (m != Marker::kNone) prev = m;
    pos = next;
  }
  return boot;
}

}  // namespace vnet::guests
