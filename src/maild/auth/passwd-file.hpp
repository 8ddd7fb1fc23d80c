// A Dovecot-style passwd-file: "user:{SCHEME}password[:more fields, ignored]" per line,
// '#' comments and blank lines. Schemes: PLAIN, SHA512-CRYPT ($6$) and CRYPT (whatever
// libcrypt verifies: $6$, $5$, $y$, $2b$). A password without {SCHEME} is CRYPT, as in Dovecot,
// so a pasted hash never becomes a plain-text password.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace maild {

// Names that are safe as a directory under the mail root: non-empty, at most 255 bytes,
// no '/', no "..", no control bytes or spaces, and not starting with '.'.
bool valid_user_name(std::string_view name);

class PasswdFile {
public:
	enum class Scheme { plain, sha512_crypt, crypt };
	struct Entry {
		Scheme scheme;
		std::string secret; // the plain password or the crypt(3) hash
	};

	// Parses text; lines it cannot use are skipped and described in `warnings`.
	static PasswdFile parse(std::string_view text, std::vector<std::string> &warnings);
	// Reads and parses a file; false with `error` set when the file cannot be read.
	static bool load(const std::string &path, PasswdFile &out, std::vector<std::string> &warnings,
			 std::string &error);

	// True only for a known user with the right password. Unknown users cost about as much
	// time as known ones (a dummy hash is checked), so timing does not tell them apart.
	bool verify(std::string_view user, std::string_view password) const;

	bool contains(std::string_view user) const { return users_.count(std::string(user)) != 0; }
	std::size_t size() const { return users_.size(); }

private:
	std::unordered_map<std::string, Entry> users_;
};

// Compares in time that depends only on the lengths, not on where the bytes differ.
bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace maild
