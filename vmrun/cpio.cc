#include "vmrun/cpio.h"

#include <sys/stat.h>

#include <cstdio>
#include <utility>

namespace vnet::vmrun {
namespace {

void pad4(std::string& s) {
  while (s.size() % 4 != 0) s.push_back('\0');
}

std::string_view strip_slash(std::string_view p) {
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  return p;
}

}  // namespace

void CpioWriter::entry(std::string_view path, uint32_t mode, std::string_view data,
                       uint32_t rmajor, uint32_t rminor) {
  std::string name(strip_slash(path));
  if (name.empty()) name = ".";
  char hdr[111];
  // magic ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor
  // namesize check
  std::snprintf(hdr, sizeof hdr,
                "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                next_ino_++, mode, 0u, 0u, S_ISDIR(mode) ? 2u : 1u, 0u,
                static_cast<uint32_t>(data.size()), 0u, 0u, rmajor, rminor,
                static_cast<uint32_t>(name.size() + 1), 0u);
  out_.append(hdr, 110);
  out_.append(name);
  out_.push_back('\0');
  pad4(out_);
  out_.append(data);
  pad4(out_);
}

void CpioWriter::add_dir(std::string_view path, uint32_t mode) {
  entry(path, S_IFDIR | (mode & 07777), {});
}

void CpioWriter::add_file(std::string_view path, std::string_view data, uint32_t mode) {
  entry(path, S_IFREG | (mode & 07777), data);
}

void CpioWriter::add_symlink(std::string_view path, std::string_view target) {
  entry(path, S_IFLNK | 0777, target);
}

void CpioWriter::add_char_device(std::string_view path, uint32_t major, uint32_t minor,
                                 uint32_t mode) {
  entry(path, S_IFCHR | (mode & 07777), {}, major, minor);
}

std::string CpioWriter::finish() {
  next_ino_ = 0;  // the trailer has inode 0
  entry("TRAILER!!!", 0, {});
  next_ino_ = 1;
  return std::exchange(out_, {});
}

}  // namespace vnet::vmrun
