// Turning a bzImage into the uncompressed ELF vmlinux that QEMU boots through the
// kernel's PVH entry (facts.md: about half the boot time under TCG is the bzImage
// decompressing itself). Debian builds with CONFIG_KERNEL_XZ: the payload is one xz
// stream, found by its magic FD 37 7A 58 5A 00 and decoded with liblzma up to the
// stream's end (the bytes after it are the rest of the setup image, not an error).
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace vnet::vmrun {

// The ELF image inside `bzimage`. Tries every occurrence of the xz magic until one
// decodes to something starting with "\x7fELF"; fails when none does.
Result<std::string> extract_vmlinux(std::string_view bzimage);

// Decodes one xz stream at the start of `in` (bytes after its end are ignored).
Result<std::string> xz_decompress(std::string_view in);

// True when `image` is an ELF file with a PVH note (XEN_ELFNOTE_PHYS32_ENTRY), i.e.
// something QEMU's -kernel can boot directly.
bool has_pvh_note(std::string_view image);

}  // namespace vnet::vmrun
