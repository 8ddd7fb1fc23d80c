// One line per event on stderr: "maild: <level>: [<peer>] <message>".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace maild {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

std::optional<LogLevel> parse_log_level(std::string_view name);
void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);

// peer may be empty (events that belong to no connection).
void log_line(LogLevel level, std::string_view peer, std::string_view message);

// Client-supplied text made safe for one log line: control bytes and non-ASCII become '?',
// and it is cut at `max` bytes.
std::string printable(std::string_view text, std::size_t max = 64);

} // namespace maild
