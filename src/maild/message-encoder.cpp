#include "message-encoder.hpp"

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

void Pop3MessageEncoder::feed(std::string_view chunk, std::string &out)
{
	while (!chunk.empty() && !done_) {
		if (at_line_start_) {
			if (dot_stuff_ && chunk.front() == '.')
				out += '.';
			at_line_start_ = false;
		}
		const char *nl = static_cast<const char *>(std::memchr(chunk.data(), '\n', chunk.size()));
		std::size_t span = nl == nullptr ? chunk.size() : static_cast<std::size_t>(nl - chunk.data());
		if (span > 0) {
			out.append(chunk.data(), span);
			line_length_ += span;
			last_was_cr_ = chunk[span - 1] == '\r';
		}
		if (nl == nullptr)
			return;
		if (!last_was_cr_)
			out += '\r';
		out += '\n';
		chunk.remove_prefix(span + 1);
		end_line();
	}
}

void Pop3MessageEncoder::finish(std::string &out)
{
	if (!at_line_start_) {
		if (!last_was_cr_)
			out += '\r';
		out += '\n';
	}
	at_line_start_ = true;
	done_ = true;
	if (dot_stuff_)
		out += ".\r\n";
}

void CrlfSizeCounter::feed(std::string_view chunk)
{
	size_ += chunk.size();
	for (char c : chunk) {
		if (c == '\n' && !last_was_cr_)
			size_++;
		last_was_cr_ = c == '\r';
	}
}

} // namespace maild
