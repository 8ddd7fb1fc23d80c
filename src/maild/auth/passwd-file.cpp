#include "auth/passwd-file.hpp"

#include "base/ascii.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"

#include <cerrno>
#if defined(MAILD_HAVE_CRYPT_R)
#include <crypt.h>
#endif
#include <cstring>
#include <fcntl.h>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

bool valid_user_name(std::string_view name)
{
	if (name.empty() || name.size() > 255 || name.front() == '.')
		return false;
	if (name.find("..") != std::string_view::npos)
		return false;
	for (char c : name) {
		auto u = static_cast<unsigned char>(c);
		if (c == '/' || c == ':' || u <= 0x20 || u == 0x7f)
			return false;
	}
	return true;
}

bool constant_time_equal(std::string_view a, std::string_view b)
{
	std::size_t n = a.size() > b.size() ? a.size() : b.size();
	unsigned diff = a.size() == b.size() ? 0u : 1u;
	for (std::size_t i = 0; i < n; i++) {
		auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0u;
		auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0u;
		diff |= x ^ y;
	}
	return diff == 0;
}

namespace {

// crypt(3) once, from any thread; "" when it fails. libcrypt's crypt_r keeps its ~32 KiB of state
// in a buffer per thread (--workers verify passwords on several threads at once); where there is
// only the C library's crypt() (macOS), one static buffer, so one call at a time.
std::string crypt_text(std::string_view password, const std::string &setting)
{
	std::string pw(password);
#if defined(MAILD_HAVE_CRYPT_R)
	thread_local std::unique_ptr<crypt_data> data = std::make_unique<crypt_data>();
	*data = crypt_data{};
#ifdef CRYPT_OUTPUT_SIZE
	// libxcrypt's crypt_rn: the same as crypt_r, but not intercepted by AddressSanitizer,
	// whose crypt_r wrapper calls a null pointer when libcrypt is linked directly.
	const char *out = crypt_rn(pw.c_str(), setting.c_str(), data.get(), static_cast<int>(sizeof(crypt_data)));
#else
	const char *out = crypt_r(pw.c_str(), setting.c_str(), data.get());
#endif
#else
	static std::mutex lock;
	std::lock_guard<std::mutex> hold(lock);
	const char *out = crypt(pw.c_str(), setting.c_str());
#endif
	// On failure crypt returns NULL or a string starting with '*' that never equals a hash.
	return out == nullptr || out[0] == '*' ? std::string() : std::string(out);
}

bool crypt_matches(std::string_view password, const std::string &hash)
{
	std::string out = crypt_text(password, hash);
	return !out.empty() && constant_time_equal(out, hash);
}

// Whether this system's crypt() computes hashes of the method `hash` names ("$6$", "$y$", ...),
// so that a passwd-file with hashes it cannot verify is refused when it is loaded, not at every
// login. libxcrypt says per method (crypt_gensalt); elsewhere (macOS's crypt() knows no $id$
// method) the hash itself is tried once, and a method that worked is not asked again.
bool crypt_method_supported(std::string_view hash)
{
	auto end = hash.find('$', 1);
	if (hash.size() < 3 || hash[0] != '$' || end == std::string_view::npos)
		return false;
	std::string method(hash.substr(0, end + 1));
	static std::mutex lock;
	static std::map<std::string, bool> known;
	std::lock_guard<std::mutex> hold(lock);
	if (auto it = known.find(method); it != known.end())
		return it->second;
#if defined(MAILD_HAVE_CRYPT_R) && defined(CRYPT_GENSALT_OUTPUT_SIZE)
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	bool ok = crypt_gensalt_rn(method.c_str(), 0, nullptr, 0, setting, sizeof setting) != nullptr;
	known.emplace(method, ok);
	return ok;
#else
	std::string out = crypt_text("probe", std::string(hash));
	bool ok = out.compare(0, method.size(), method) == 0;
	if (ok)
		known.emplace(method, true);
	return ok;
#endif
}

// A valid SHA512-CRYPT hash of a random password; checked for unknown users.
const std::string dummy_hash =
	"$6$maildDummySalt$CuN1t9cS9VwlPlV8fG3b0qZ0A2H5u0Yq9k1Pj0Gm5a8q7y2fWb1m0Yg4uJ8Qe3sRz6tXn2cVd4"
	"kLh7pOi9aB1.";

// "{SCHEME}secret" or a bare crypt hash; nothing with `why` when the entry cannot be used.
std::optional<PasswdFile::Entry> parse_secret(std::string_view pass, std::string &why)
{
	using Scheme = PasswdFile::Scheme;
	Scheme scheme = Scheme::crypt;
	if (!pass.empty() && pass.front() == '{') {
		auto close = pass.find('}');
		if (close == std::string_view::npos) {
			why = "unterminated {SCHEME}";
			return std::nullopt;
		}
		std::string name = upper_ascii(pass.substr(1, close - 1));
		pass = pass.substr(close + 1);
		if (name == "PLAIN")
			scheme = Scheme::plain;
		else if (name == "SHA512-CRYPT")
			scheme = Scheme::sha512_crypt;
		else if (name == "CRYPT")
			scheme = Scheme::crypt;
		else {
			why = "unsupported scheme {" + name + "}";
			return std::nullopt;
		}
	}
	if (pass.empty())
		why = "empty password";
	else if (scheme == Scheme::sha512_crypt && pass.rfind("$6$", 0) != 0)
		why = "SHA512-CRYPT hash does not start with $6$";
	else if (scheme == Scheme::crypt && pass.front() != '$')
		why = "CRYPT hash is not a $id$ hash (DES is refused)";
	else if (scheme != Scheme::plain && !crypt_method_supported(pass))
		why = "this system's crypt() cannot verify " + std::string(pass.substr(0, pass.find('$', 1) + 1)) + " hashes";
	else
		return PasswdFile::Entry{scheme, std::string(pass)};
	return std::nullopt;
}

} // namespace

PasswdFile PasswdFile::parse(std::string_view text, std::vector<std::string> &warnings)
{
	PasswdFile pf;
	std::size_t line_no = 0;
	while (!text.empty()) {
		auto nl = text.find('\n');
		std::string_view line = text.substr(0, nl);
		text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
		line_no++;
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		auto first = line.find_first_not_of(" \t");
		if (first == std::string_view::npos || line[first] == '#')
			continue;
		auto where = "line " + std::to_string(line_no) + ": ";
		auto colon = line.find(':');
		if (colon == std::string_view::npos) {
			warnings.push_back(where + "no ':' after the user name, skipped");
			continue;
		}
		std::string_view user = line.substr(0, colon);
		std::string_view pass = line.substr(colon + 1);
		pass = pass.substr(0, pass.find(':'));
		if (!valid_user_name(user)) {
			warnings.push_back(where + "unusable user name, skipped");
			continue;
		}
		std::string why;
		auto entry = parse_secret(pass, why);
		if (!entry) {
			warnings.push_back(where + why + ", skipped");
			continue;
		}
		auto [it, inserted] = pf.users_.emplace(std::string(user), std::move(*entry));
		if (!inserted)
			warnings.push_back(where + "duplicate user, the first entry is kept");
	}
	return pf;
}

bool PasswdFile::load(const std::string &path, PasswdFile &out, std::vector<std::string> &warnings,
		      std::string &error)
{
	// Not std::ifstream: it opens a directory on Linux and then reads nothing, which would look
	// like an empty file and drop every account on a SIGHUP. O_NONBLOCK: a FIFO must not hang
	// the open (it is refused below anyway).
	Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
	struct stat st {};
	if (!fd || fstat(fd.get(), &st) < 0) {
		error = errno_text("cannot read passwd file " + path);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		error = "cannot read passwd file " + path + ": " +
			(S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		return false;
	}
	std::string text;
	if (!read_to_end(fd.get(), text)) {
		error = errno_text("error reading passwd file " + path);
		return false;
	}
	out = parse(text, warnings);
	return true;
}

bool PasswdFile::verify(std::string_view user, std::string_view password) const
{
	auto it = users_.find(std::string(user));
	if (it == users_.end()) {
		crypt_matches(password, dummy_hash);
		return false;
	}
	const Entry &e = it->second;
	if (e.scheme == Scheme::plain)
		return constant_time_equal(password, e.secret);
	return crypt_matches(password, e.secret);
}

} // namespace maild
