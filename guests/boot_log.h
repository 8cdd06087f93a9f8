// Where the last guest boot begins in a serial console log. The log of one QEMU run
// (rotated at every start) can hold several boots, since QEMU keeps running across a
// guest reboot; `vnet guest console --since-boot` prints from the last one.
// The rule (docs/guests.md "Lifecycle", console): a boot starts at a line that begins
// (after escape sequences and carriage returns) with SeaBIOS's banner "SeaBIOS
// (version", or with the kernel's first message "[    0.000000] Linux version ", or
// right after the kernel's last words before a reset ("[T] reboot: Restarting system",
// "[T] Rebooting in N seconds.."; these show even with `quiet`, which hides the
// banner); a kernel banner after a firmware banner or a restart belongs to that boot.
// Printk timestamps are required so that `cat /proc/version` in the guest is no boot.
// (SeaBIOS prints to the serial port only when QEMU has no display device and sercon
// is on; vnet's own -nodefaults guests show no firmware banner.)
#pragma once

#include <cstddef>
#include <string_view>

namespace vnet::guests {

// The byte offset of the line that starts the last boot in `log`; 0 when it names no
// boot (the log starts with QEMU, which is a boot too).
size_t last_boot_offset(std::string_view log);

}  // namespace vnet::guests
