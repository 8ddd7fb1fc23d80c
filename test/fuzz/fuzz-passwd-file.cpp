// PasswdFile::parse against a model of the format in passwd-file.hpp: which lines become users,
// with which scheme, and how many warnings; PLAIN users must then verify with exactly their
// password. valid_user_name and constant_time_equal are checked against their descriptions.
// crypt(3) hashes are never verified here: a fuzzed "$2b$31$" costs hours by design. Whether the
// system computes a hash method at all is libxcrypt's to say (crypt_gensalt, per method).
#include "auth/passwd-file.hpp"
#include "fuzz-check.hpp"

#include <crypt.h>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

bool model_valid_user(std::string_view name)
{
	if (name.empty() || name.size() > 255 || name[0] == '.')
		return false;
	for (std::size_t i = 0; i < name.size(); i++) {
		auto u = static_cast<unsigned char>(name[i]);
		if (u <= ' ' || u == 0x7f || u == '/' || u == ':')
			return false;
		if (u == '.' && i + 1 < name.size() && name[i + 1] == '.')
			return false;
	}
	return true;
}

struct ModelEntry {
	bool plain;
	std::string secret;
};

// A "$id$..." hash whose method this system's crypt() computes.
bool model_method_supported(std::string_view hash)
{
	std::size_t end = hash.find('$', 1);
	if (hash.size() < 3 || hash[0] != '$' || end == std::string_view::npos)
		return false;
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	return crypt_gensalt_rn(std::string(hash.substr(0, end + 1)).c_str(), 0, nullptr, 0, setting,
				sizeof setting) != nullptr;
}

std::string upper(std::string_view s)
{
	std::string u(s);
	for (char &c : u)
		if (c >= 'a' && c <= 'z')
			c = static_cast<char>(c - 'a' + 'A');
	return u;
}

// Returns the number of warnings the text must produce, and the users it must define.
std::size_t model_parse(std::string_view text, std::map<std::string, ModelEntry> &users)
{
	std::size_t warnings = 0;
	std::size_t start = 0;
	while (start < text.size()) {
		std::size_t end = text.find('\n', start);
		if (end == std::string_view::npos)
			end = text.size();
		std::string_view line = text.substr(start, end - start);
		start = end + 1;
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		std::size_t i = 0;
		while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == line.size() || line[i] == '#')
			continue;
		std::size_t colon = line.find(':');
		if (colon == std::string_view::npos) {
			warnings++;
			continue;
		}
		std::string_view user = line.substr(0, colon);
		std::string_view field = line.substr(colon + 1);
		field = field.substr(0, field.find(':'));
		if (!model_valid_user(user)) {
			warnings++;
			continue;
		}
		std::string scheme = "CRYPT";
		if (!field.empty() && field[0] == '{') {
			std::size_t close = field.find('}');
			if (close == std::string_view::npos) {
				warnings++;
				continue;
			}
			scheme = upper(field.substr(1, close - 1));
			field = field.substr(close + 1);
		}
		bool ok = !field.empty() &&
			  (scheme == "PLAIN" || (scheme == "SHA512-CRYPT" && field.substr(0, 3) == "$6$") ||
			   (scheme == "CRYPT" && field[0] == '$'));
		ok = ok && (scheme == "PLAIN" || model_method_supported(field));
		if (!ok) {
			warnings++;
			continue;
		}
		if (!users.emplace(std::string(user), ModelEntry{scheme == "PLAIN", std::string(field)}).second)
			warnings++;
	}
	return warnings;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	std::string_view text(reinterpret_cast<const char *>(data), size);

	std::vector<std::string> warnings;
	maild::PasswdFile pf = maild::PasswdFile::parse(text, warnings);
	std::map<std::string, ModelEntry> users;
	std::size_t expected_warnings = model_parse(text, users);
	FUZZ_CHECK(warnings.size() == expected_warnings);
	FUZZ_CHECK(pf.size() == users.size());
	for (const auto &w : warnings)
		FUZZ_CHECK(w.rfind("line ", 0) == 0 && w.find('\n') == std::string::npos);

	int plain_checks = 0;
	for (const auto &[user, entry] : users) {
		FUZZ_CHECK(pf.contains(user));
		FUZZ_CHECK(maild::valid_user_name(user));
		if (entry.plain && plain_checks++ < 4) {
			FUZZ_CHECK(pf.verify(user, entry.secret));
			FUZZ_CHECK(!pf.verify(user, entry.secret + "x"));
			FUZZ_CHECK(!pf.verify(user, entry.secret.substr(0, entry.secret.size() - 1)));
		}
	}

	// The whole input as a user name, and split in two as a comparison.
	FUZZ_CHECK(maild::valid_user_name(text) == model_valid_user(text));
	std::string_view a = text.substr(0, size / 2), b = text.substr(size / 2);
	FUZZ_CHECK(maild::constant_time_equal(a, b) == (a == b));
	FUZZ_CHECK(maild::constant_time_equal(a, a));
	return 0;
}
