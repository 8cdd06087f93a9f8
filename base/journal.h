// Log lines for systemd's journal: when stderr is the journal's stream (JOURNAL_STREAM,
// systemd.exec(5)), a "<N>" syslog priority prefix (sd-daemon(3)) makes `journalctl -p`
// work; anywhere else lines stay as they are.
#pragma once

#include <string>

namespace vnet {

enum class Priority { kErr = 3, kWarning = 4, kNotice = 5, kInfo = 6 };

// Whether fd 2 is the stream JOURNAL_STREAM names (device:inode), asked once.
bool stderr_is_journal();
// `line` with its priority prefix when stderr is the journal.
std::string journal_line(Priority p, const std::string& line);

}  // namespace vnet
