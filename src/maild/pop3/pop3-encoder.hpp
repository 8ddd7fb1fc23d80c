// Turns a stored message (LF or CRLF line ends) into what POP3 sends: CRLF line ends,
// dot-stuffed, optionally cut after the header and N body lines (TOP). Works on chunks of any
// size, so a message is streamed, never held whole. Pure: bytes in, bytes out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace maild {

class Pop3MessageEncoder {
public:
	static constexpr std::uint64_t all_lines = UINT64_MAX;

	// body_lines: how many body lines after the header to send (TOP); all_lines for RETR.
	explicit Pop3MessageEncoder(std::uint64_t body_lines = all_lines, bool dot_stuff = true)
		: body_lines_left_(body_lines), dot_stuff_(dot_stuff)
	{
	}

	// The most feed() writes for a chunk of n bytes, and finish() at all.
	static constexpr std::size_t feed_room(std::size_t n) { return 2 * n; }
	static constexpr std::size_t finish_room = 5;

	// Writes the encoded form of `chunk` at `out`, which has feed_room(chunk.size()) bytes of
	// room, and returns the end of what it wrote.
	char *feed(std::string_view chunk, char *out);
	// The same, appended to a string.
	void feed(std::string_view chunk, std::string &out);
	// True once TOP's limit is reached: the rest of the file need not be read.
	bool done() const { return done_; }
	// Ends the message: the last line's CRLF if it had none, then ".\r\n" when dot-stuffing.
	// Needs finish_room bytes at `out`; returns the end of what it wrote.
	char *finish(char *out);
	void finish(std::string &out);

private:
	void end_line();

	std::uint64_t body_lines_left_;
	bool dot_stuff_;
	bool at_line_start_ = true;
	bool last_was_cr_ = false;
	bool in_header_ = true;
	bool done_ = false;
	std::uint64_t line_length_ = 0; // bytes of the current line so far, CR included
};

} // namespace maild
