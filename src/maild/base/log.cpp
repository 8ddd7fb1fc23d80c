#include "base/log.hpp"

#include <cstdio>

namespace maild {

namespace {
LogLevel current_level = LogLevel::info;
constexpr const char *level_names[] = {"error", "warn", "info", "debug"};
} // namespace

std::optional<LogLevel> parse_log_level(std::string_view name)
{
	for (int i = 0; i < 4; i++) {
		if (name == level_names[i])
			return static_cast<LogLevel>(i);
	}
	return std::nullopt;
}

void set_log_level(LogLevel level)
{
	current_level = level;
}

bool log_enabled(LogLevel level)
{
	return level <= current_level;
}

void log_line(LogLevel level, std::string_view peer, std::string_view message)
{
	if (!log_enabled(level))
		return;
	std::string line = "maild: ";
	line += level_names[static_cast<int>(level)];
	line += ": ";
	if (!peer.empty()) {
		line += '[';
		line += peer;
		line += "] ";
	}
	line += message;
	line += '\n';
	// One fwrite per line keeps lines whole; stderr is unbuffered.
	std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string printable(std::string_view text, std::size_t max)
{
	std::string out;
	for (char c : text.substr(0, max)) {
		auto u = static_cast<unsigned char>(c);
		out += (u < 0x20 || u >= 0x7f) ? '?' : c;
	}
	if (text.size() > max)
		out += "...";
	return out;
}

} // namespace maild
