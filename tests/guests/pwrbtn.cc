// A static helper for the lab guest's busybox /init: waits for the ACPI power button.
// QEMU latches a press (PWRBTN_STS) only while the guest enables it in PM1a_EN, a 16-bit
// register that byte writes through /dev/port cannot set, and Debian's button driver is
// not in the kernel cache. So: enable it with outw, then poll until the press shows
// (the status bit, or the kernel, having no handler, clearing the enable bit), exit 0.
// Usage: pwrbtn PM1A_EVT_BLK_PORT
#include <sys/io.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  unsigned port = unsigned(std::strtoul(argv[1], nullptr, 0));
  if (ioperm(port, 4, 1) != 0) {
    std::perror("ioperm");
    return 1;
  }
  constexpr unsigned short kPwrBtn = 1u << 8;
  outw(inw(port + 2) | kPwrBtn, port + 2);
  std::printf("pwrbtn: armed, PM1a_EN %#x\n", inw(port + 2));
  std::fflush(stdout);
  while ((inw(port) & kPwrBtn) == 0 && (inw(port + 2) & kPwrBtn) != 0) usleep(100 * 1000);
  return 0;
}
