#include "pop3/pop3-encoder.hpp"

#include <cstring>

namespace maild {

void Pop3MessageEncoder::end_line()
{
	bool empty = line_length_ == 0 || (line_length_ == 1 && last_was_cr_);
	at_line_start_ = true;
	line_length_ = 0;
	last_was_cr_ = false;
	if (in_header_) {
		if (empty) {
			in_header_ = false;
			if (body_lines_left_ == 0)
				done_ = true;
		}
		return;
	}
	if (body_lines_left_ != all_lines && --body_lines_left_ == 0)
		done_ = true;
}

char *Pop3MessageEncoder::feed(std::string_view chunk, char *out)
{
	// A line at a time: a memchr and a memcpy on raw pointers, then the line end. At most two
	// bytes are added per line (a stuffed dot, a CR), and a line has at least one byte (its LF)
	// or starts with the dot that gets doubled, so feed_room(n) is enough.
	const char *p = chunk.data(), *end = p + chunk.size();
	while (p < end && !done_) {
		if (at_line_start_) {
			if (dot_stuff_ && *p == '.')
				*out++ = '.';
			at_line_start_ = false;
		}
		const void *found = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
		const char *nl = found != nullptr ? static_cast<const char *>(found) : end;
		auto span = static_cast<std::size_t>(nl - p);
		if (span > 0) {
			std::memcpy(out, p, span);
			out += span;
			line_length_ += span;
			last_was_cr_ = nl[-1] == '\r';
		}
		if (nl == end)
			break;
		if (!last_was_cr_)
			*out++ = '\r';
		*out++ = '\n';
		p = nl + 1;
		end_line();
	}
	return out;
}

void Pop3MessageEncoder::feed(std::string_view chunk, std::string &out)
{
	std::size_t old = out.size();
	out.resize(old + feed_room(chunk.size()));
	char *end = feed(chunk, out.data() + old);
	out.resize(static_cast<std::size_t>(end - out.data()));
}

char *Pop3MessageEncoder::finish(char *out)
{
	if (!at_line_start_) {
		if (!last_was_cr_)
			*out++ = '\r';
		*out++ = '\n';
	}
	at_line_start_ = true;
	done_ = true;
	if (dot_stuff_) {
		std::memcpy(out, ".\r\n", 3);
		out += 3;
	}
	return out;
}

void Pop3MessageEncoder::finish(std::string &out)
{
	std::size_t old = out.size();
	out.resize(old + finish_room);
	char *end = finish(out.data() + old);
	out.resize(static_cast<std::size_t>(end - out.data()));
}

} // namespace maild
