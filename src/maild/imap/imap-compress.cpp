// COMPRESS=DEFLATE (RFC 4978): the connection deflates both directions from the tagged OK on.
// Built without zlib, the command is unknown, as the capability is not announced.
#include "imap/imap-session.hpp"

namespace maild {

void ImapSession::compress(const ImapCommand &cmd)
{
	if (!Connection::compression_available()) {
		tagged(cmd.tag, "BAD", "Unknown command");
		return;
	}
	// RFC 4978 3: an unknown mechanism is a syntax error, a second COMPRESS a NO with its code.
	if (cmd.args.size() != 1 || cmd.args[0] != "DEFLATE") {
		tagged(cmd.tag, "BAD", "Unknown compression mechanism");
		return;
	}
	if (conn_.compressed()) {
		tagged(cmd.tag, "NO", "[COMPRESSIONACTIVE] DEFLATE active via COMPRESS");
		return;
	}
	// The OK is queued before compression starts, so it goes out plain, as the client expects;
	// everything after it is deflated.
	tagged(cmd.tag, "OK", "DEFLATE active");
	if (!conn_.start_compression()) {
		// zlib could not get its memory: the client now expects deflate, which cannot be sent.
		untagged("BYE Compression failed");
		state_ = State::logout;
		conn_.close_after_output();
	}
}

void ImapSession::on_input_error(std::string_view why)
{
	untagged("BYE " + std::string(why));
	state_ = State::logout;
}

} // namespace maild
