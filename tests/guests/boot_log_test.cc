// `vnet guest console --since-boot`: where the last boot begins in a console log.
#include "guests/boot_log.h"

#include <gtest/gtest.h>

#include <string>

namespace vnet::guests {
namespace {

// Serial logs end lines with CRLF; SeaBIOS starts with a screen clear.
const std::string kBoot1 =
    "\x1b" "c\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"
    "Booting from ROM...\r\n"
    "[    0.000000] Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)\r\n"
    "[    0.000000] Command line: console=ttyS0\r\n"
    "[    1.234567] Run /init as init process\r\n"
    "login: root\r\n";

std::string tail_from(const std::string& log) { return log.substr(last_boot_offset(log)); }

TEST(BootLog, OneBootIsTheWholeLog) { EXPECT_EQ(last_boot_offset(kBoot1), 0u); }

TEST(BootLog, NoMarkerIsTheWholeLog) {
  EXPECT_EQ(last_boot_offset(""), 0u);
  EXPECT_EQ(last_boot_offset("hello\r\nworld\r\n"), 0u);
}

TEST(BootLog, AfterAGuestRebootStartsAtTheLastFirmwareBanner) {
  std::string boot2 = "SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\n"
                      "[    0.000000] Linux version 6.1.0-57-amd64 (second)\r\n"
                      "second boot\r\n";
  std::string log = kBoot1 + "# reboot\r\n[   12.5] reboot: Restarting system\r\n" + boot2;
  EXPECT_EQ(tail_from(log), boot2);
}

TEST(BootLog, KernelBannerStartsABootWithoutFirmware) {
  // kexec, or a machine whose firmware prints nothing on the serial port
  std::string boot2 = "[    0.000000] Linux version 6.1.0-57-amd64 (kexec)\r\nsecond\r\n";
  std::string log = "[    0.000000] Linux version 6.1.0-57-amd64 (first)\r\nfirst\r\n" + boot2;
  EXPECT_EQ(tail_from(log), boot2);
  // ...and two kernel banners in a row after one firmware banner are two boots
  EXPECT_EQ(tail_from(kBoot1 + boot2), boot2);
}

TEST(BootLog, BannersInsideALineOrWithoutTimestampAreNoBoot) {
  std::string log = kBoot1 +
                    "# cat /proc/version\r\n"
                    "Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org)\r\n"
                    "# dmesg | grep SeaBIOS\r\n"
                    "echo SeaBIOS (version x)\r\n"
                    "[   40.000000] Linux version 6.1.0 (not the first message)\r\n";
  EXPECT_EQ(last_boot_offset(log), 0u);
}

TEST(BootLog, LastLineWithoutNewlineCounts) {
  std::string log = kBoot1 + "SeaBIOS (version 1.16.2)";
  EXPECT_EQ(last_boot_offset(log), kBoot1.size());
}

TEST(BootLog, AQuietKernelRebootStartsABootAfterItsLastWords) {
  // `quiet` hides the banner; reboot(2) and panic=N still say they reset the machine
  std::string boot2 = "Welcome, second boot\r\n";
  std::string log = "first boot\r\n[   12.000001] reboot: Restarting system\r\n" + boot2;
  EXPECT_EQ(tail_from(log), boot2);
  std::string panicked = "first\r\n[    6.977414] Rebooting in 1 seconds..\r\n" + boot2;
  EXPECT_EQ(tail_from(panicked), boot2);
  // not quiet: the banner that follows the restart belongs to the same boot
  std::string boot3 = "Booting from ROM...\r\n"
                      "[    0.000000] Linux version 6.1.0-57-amd64 (third)\r\n";
  EXPECT_EQ(tail_from(log + "[   20.5] reboot: Restarting system\r\n" + boot3), boot3);
  // a restart as the log's last line: the next boot has not printed anything yet
  std::string ended = log + "[   20.5] reboot: Restarting system\r\n";
  EXPECT_EQ(last_boot_offset(ended), ended.size());
}

}  // namespace
}  // namespace vnet::guests
