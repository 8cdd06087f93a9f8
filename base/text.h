// Text vnet prints but did not write (source lines, names from a file, strings a client
// sent): control bytes are escaped, so nothing read can move the cursor, recolour the
// terminal, or forge a second log line with a newline.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vnet {

// "\n" -> "\\n", ESC -> "\\x1b", C1 controls (UTF-8 C2 80..9F) -> "\\u0080".."\\u009f",
// bytes that are not UTF-8 -> "\\xNN" (so the result is valid UTF-8, fit for JSON too);
// tabs kept when keep_tabs (source lines, where carets line up under them).
std::string printable(std::string_view s, bool keep_tabs = false);

// Levenshtein distance, for did-you-mean suggestions (words are short: a quadratic table).
size_t edit_distance(std::string_view a, std::string_view b);

// QEMU's option syntax (QemuOpts and keyval) doubles commas inside values
// ("a,b" -> "a,,b"), so a path with a comma cannot start a new option. Shared by vm-run
// and the guest backend.
std::string qemu_escape(std::string_view value);

}  // namespace vnet
