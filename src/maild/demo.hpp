// maild --demo: a throw-away mail root with user demo / password demo and a few sample messages
// that show dot-stuffing and LF -> CRLF conversion.
#pragma once

#include <string>

namespace maild {

class DemoRoot {
public:
	// Creates the temp dir; false with `error` set.
	bool create(std::string &error);
	~DemoRoot(); // removes the temp dir
	const std::string &mail_root() const { return mail_root_; }
	const std::string &passwd_file() const { return passwd_file_; }
	// The commands worth trying against the listeners at these host:port (empty: none).
	std::string instructions(const std::string &pop3, const std::string &imap) const;

private:
	std::string dir_;
	std::string mail_root_;
	std::string passwd_file_;
};

} // namespace maild
