// Line-end conversion for what IMAP and POP3 send: stored messages may have bare LF line ends
// (the usual Maildir form), the protocols want CRLF. A CR already before an LF is kept as is, and
// a CR alone is not a line end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace maild {

// Size of raw once every bare LF is CRLF.
std::uint64_t crlf_size(std::string_view raw);

// Writes raw with bare LFs turned into CRLF at out, which has room for 2 * raw.size() bytes, and
// returns the end of what it wrote. `last_was_cr` carries state across chunks (a CR at the end
// of one chunk followed by LF at the start of the next is not doubled).
char *copy_crlf(std::string_view raw, char *out, bool &last_was_cr);

// The same, appended to a string.
void append_crlf(std::string_view raw, std::string &out, bool &last_was_cr);

// The size a message has once its line ends are CRLF (what LIST and STAT report, RFC 1939).
class CrlfSizeCounter {
public:
	void feed(std::string_view chunk);
	std::uint64_t size() const { return size_; }

private:
	std::uint64_t size_ = 0;
	bool last_was_cr_ = false;
};

} // namespace maild
