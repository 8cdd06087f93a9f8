#include "vmrun/vmlinux.h"

#include <elf.h>
#include <lzma.h>

#include <algorithm>
#include <cstring>

namespace vnet::vmrun {
namespace {

constexpr std::string_view kXzMagic("\xFD" "7zXZ\0", 6);

// Decodes one xz stream starting at `in`; stops at its end. Empty on any error.
bool decode_xz(std::string_view in, std::string& out) {
  lzma_stream strm = LZMA_STREAM_INIT;
  if (lzma_stream_decoder(&strm, UINT64_MAX, 0) != LZMA_OK) return false;
  out.clear();
  out.resize(std::max<size_t>(in.size() * 4, 1 << 20));
  strm.next_in = reinterpret_cast<const uint8_t*>(in.data());
  strm.avail_in = in.size();
  size_t produced = 0;
  lzma_ret ret = LZMA_OK;
  while (true) {
    if (produced == out.size()) out.resize(out.size() * 2);
    strm.next_out = reinterpret_cast<uint8_t*>(out.data()) + produced;
    strm.avail_out = out.size() - produced;
    ret = lzma_code(&strm, LZMA_FINISH);
    produced = out.size() - strm.avail_out;
    if (ret == LZMA_STREAM_END) break;
    if (ret != LZMA_OK && ret != LZMA_BUF_ERROR) break;
    if (ret == LZMA_BUF_ERROR && strm.avail_out != 0) break;  // input ran out
  }
  lzma_end(&strm);
  out.resize(produced);
  return ret == LZMA_STREAM_END;
}

}  // namespace

Result<std::string> xz_decompress(std::string_view in) {
  std::string out;
  if (!decode_xz(in, out)) return fail("not a valid xz stream");
  return out;
}

Result<std::string> extract_vmlinux(std::string_view bzimage) {
  size_t pos = 0;
  int tried = 0;
  std::string out;
  while ((pos = bzimage.find(kXzMagic, pos)) != std::string_view::npos) {
    ++tried;
    if (decode_xz(bzimage.substr(pos), out) && out.size() >= 4 &&
        std::memcmp(out.data(), ELFMAG, SELFMAG) == 0)
      return out;
    ++pos;
  }
  if (tried == 0) return fail("no xz stream in the kernel image (not an xz bzImage)");
  return fail("none of the " + std::to_string(tried) +
              " xz streams in the kernel image decodes to an ELF file");
}

bool has_pvh_note(std::string_view img) {
  if (img.size() < sizeof(Elf64_Ehdr) || std::memcmp(img.data(), ELFMAG, SELFMAG) != 0 ||
      img[EI_CLASS] != ELFCLASS64)
    return false;
  Elf64_Ehdr eh;
  std::memcpy(&eh, img.data(), sizeof eh);
  for (int i = 0; i < eh.e_phnum; ++i) {
    size_t off = eh.e_phoff + size_t(i) * eh.e_phentsize;
    if (off + sizeof(Elf64_Phdr) > img.size()) return false;
    Elf64_Phdr ph;
    std::memcpy(&ph, img.data() + off, sizeof ph);
    if (ph.p_type != PT_NOTE || ph.p_offset + ph.p_filesz > img.size()) continue;
    size_t p = ph.p_offset, end = ph.p_offset + ph.p_filesz;
    while (p + sizeof(Elf64_Nhdr) <= end) {
      Elf64_Nhdr nh;
      std::memcpy(&nh, img.data() + p, sizeof nh);
      size_t name_off = p + sizeof nh;
      size_t desc_off = name_off + ((nh.n_namesz + 3) & ~3u);
      std::string_view name = img.substr(name_off, nh.n_namesz);
      if (nh.n_type == 18 /* XEN_ELFNOTE_PHYS32_ENTRY */ && name.substr(0, 3) == "Xen")
        return true;
      p = desc_off + ((nh.n_descsz + 3) & ~3u);
    }
  }
  return false;
}

}  // namespace vnet::vmrun
