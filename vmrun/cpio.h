// A writer of cpio "newc" archives (the format the kernel unpacks as an initramfs),
// kept in memory. The format is a 110-byte ASCII header per entry, the NUL-terminated
// name, the data, each padded to 4 bytes, and a "TRAILER!!!" entry at the end.
// Parent directories are not implied: add them before their contents, as cpio does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace vnet::vmrun {

class CpioWriter {
 public:
  // Paths are archive-relative ("bin/busybox"); a leading "/" is dropped.
  void add_dir(std::string_view path, uint32_t mode = 0755);
  void add_file(std::string_view path, std::string_view data, uint32_t mode = 0644);
  void add_symlink(std::string_view path, std::string_view target);
  // A character device node (e.g. dev/console 5:1, which the kernel wants before /init).
  void add_char_device(std::string_view path, uint32_t major, uint32_t minor,
                       uint32_t mode = 0600);

  // Appends the trailer and returns the archive; the writer is empty afterwards.
  std::string finish();
  size_t size() const { return out_.size(); }

 private:
  void entry(std::string_view path, uint32_t mode, std::string_view data, uint32_t rmajor = 0,
             uint32_t rminor = 0);
  std::string out_;
  uint32_t next_ino_ = 1;
};

}  // namespace vnet::vmrun
