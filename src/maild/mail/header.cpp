#include "mail/header.hpp"

#include "base/ascii.hpp"

#include <algorithm>
#include <cstring>

namespace maild {

std::size_t next_line(std::string_view s, std::size_t pos)
{
	if (pos >= s.size())
		return s.size(); // also keeps the null data() of an empty view away from memchr
	const void *nl = std::memchr(s.data() + pos, '\n', s.size() - pos);
	return nl == nullptr ? s.size() : static_cast<std::size_t>(static_cast<const char *>(nl) - s.data()) + 1;
}

bool is_blank_line(std::string_view line)
{
	return line == "\n" || line == "\r\n";
}

std::uint64_t count_lines(std::string_view s)
{
	auto lines = static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
	if (!s.empty() && s.back() != '\n')
		lines++;
	return lines;
}

std::pair<std::string_view, std::string_view> split_entity(std::string_view entity)
{
	for (std::size_t pos = 0; pos < entity.size();) {
		std::size_t next = next_line(entity, pos);
		if (is_blank_line(entity.substr(pos, next - pos)))
			return {entity.substr(0, next), entity.substr(next)};
		pos = next;
	}
	return {entity, entity.substr(entity.size())};
}

void for_each_field(std::string_view header, const std::function<bool(const HeaderField &)> &fn)
{
	std::size_t pos = 0;
	while (pos < header.size()) {
		std::size_t start = pos;
		std::size_t first_end = next_line(header, pos);
		std::string_view first = header.substr(start, first_end - start);
		if (is_blank_line(first))
			return;
		pos = first_end;
		while (pos < header.size() && is_wsp(header[pos]))
			pos = next_line(header, pos);

		HeaderField f;
		f.lines = header.substr(start, pos - start);
		std::size_t colon = first.find(':');
		if (!is_wsp(first.front()) && colon != std::string_view::npos) {
			f.name = first.substr(0, colon);
			while (!f.name.empty() && is_wsp(f.name.back()))
				f.name.remove_suffix(1);
			f.value = f.lines.substr(colon + 1);
			if (!f.value.empty() && f.value.back() == '\n')
				f.value.remove_suffix(1);
			if (!f.value.empty() && f.value.back() == '\r')
				f.value.remove_suffix(1);
		}
		if (!fn(f))
			return;
	}
}

std::optional<std::string_view> find_field(std::string_view header, std::string_view name)
{
	std::optional<std::string_view> value;
	if (name.empty())
		return value;
	for_each_field(header, [&](const HeaderField &f) {
		if (!equal_nocase(f.name, name))
			return true;
		value = f.value;
		return false;
	});
	return value;
}

std::string unfold(std::string_view v)
{
	std::string out;
	out.reserve(v.size());
	for (std::size_t i = 0; i < v.size(); i++) {
		char c = v[i];
		if (c == '\n' || (c == '\r' && i + 1 < v.size() && v[i + 1] == '\n'))
			continue;
		if (out.empty() && is_wsp(c))
			continue;
		out += c;
	}
	return out;
}

std::string unfold_trimmed(std::string_view v)
{
	std::string out = unfold(v);
	while (!out.empty() && is_wsp(out.back()))
		out.pop_back();
	return out;
}

} // namespace maild
