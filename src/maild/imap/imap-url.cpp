// RFC 5092's grammar for the URLs CATENATE takes. The path is cut at its ';' (which no
// mailbox or section character may be, RFC 5092 achar/bchar): the mailbox first, then each
// ";NAME=value" parameter in the order the grammar puts them, the '/' between them checked.
#include "imap/imap-url.hpp"

#include "imap/imap-grammar.hpp"
#include "imap/imap-mutf7.hpp"

namespace maild {

namespace {

using namespace imap_grammar;

int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

// %XX escapes decoded; a broken escape or an encoded NUL -> nothing.
std::optional<std::string> percent_decode(std::string_view s)
{
	std::string out;
	out.reserve(s.size());
	for (std::size_t i = 0; i < s.size(); i++) {
		if (s[i] != '%') {
			out += s[i];
			continue;
		}
		if (i + 2 >= s.size())
			return std::nullopt;
		int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return std::nullopt;
		out += static_cast<char>(hi * 16 + lo);
		i += 2;
	}
	return out;
}

bool starts_nocase(std::string_view s, std::string_view prefix)
{
	return s.size() >= prefix.size() && equal_nocase(s.substr(0, prefix.size()), prefix);
}

// A 32-bit number without sign or leading zeros; nz: not 0.
std::optional<std::uint64_t> url_number(std::string_view s, bool nz)
{
	if (s.empty() || s.size() > 10 || (s.size() > 1 && s[0] == '0'))
		return std::nullopt;
	std::uint64_t v = 0;
	for (char c : s) {
		if (!is_digit(c))
			return std::nullopt;
		v = v * 10 + static_cast<std::uint64_t>(c - '0');
	}
	if (v > max_number || (nz && v == 0))
		return std::nullopt;
	return v;
}

// The section through FETCH's own grammar: BODY.PEEK[section] must be exactly one body section.
bool parse_section(std::string_view enc, ImapUrl &url)
{
	auto sec = percent_decode(enc);
	if (!sec || sec->empty())
		return false;
	std::string text = "BODY.PEEK[" + *sec + "]";
	Cursor c(text);
	std::vector<FetchAtt> atts;
	if (!fetch_spec(c, atts) || !c.at_end() || atts.size() != 1 || atts[0].kind != FetchAtt::Kind::body_section ||
	    atts[0].partial)
		return false;
	url.part = std::move(atts[0].part);
	url.text = atts[0].text;
	url.fields = std::move(atts[0].fields);
	return true;
}

// The path after the mailbox: [";UIDVALIDITY=n"] "/;UID=n" ["/;SECTION=s"] ["/;PARTIAL=o[.l]"].
// `slash`: the text before `rest` ended in '/' (the mailbox did).
bool parse_params(std::string_view rest, bool slash, bool allow_uidvalidity, ImapUrl &url)
{
	enum Step { uidvalidity, uid, section, partial, done };
	int step = allow_uidvalidity ? uidvalidity : uid;
	bool have_uid = false;
	while (!rest.empty()) {
		// rest starts with ';': the parameter runs to the next ';'.
		std::size_t next = rest.find(';', 1);
		std::string_view param = rest.substr(1, next == std::string_view::npos ? std::string_view::npos : next - 1);
		rest = next == std::string_view::npos ? std::string_view() : rest.substr(next);
		bool ends_slash = !param.empty() && param.back() == '/';
		if (ends_slash)
			param.remove_suffix(1);
		if (step <= uidvalidity && starts_nocase(param, "UIDVALIDITY=")) {
			auto n = url_number(param.substr(12), true);
			if (!n || slash)
				return false;
			url.uidvalidity = static_cast<std::uint32_t>(*n);
			step = uid;
		} else if (step <= uid && starts_nocase(param, "UID=")) {
			auto n = url_number(param.substr(4), true);
			if (!n || !slash)
				return false;
			url.uid = static_cast<std::uint32_t>(*n);
			have_uid = true;
			step = section;
		} else if (have_uid && step <= section && starts_nocase(param, "SECTION=")) {
			if (!slash || !parse_section(param.substr(8), url))
				return false;
			step = partial;
		} else if (have_uid && step <= partial && starts_nocase(param, "PARTIAL=")) {
			std::string_view range = param.substr(8);
			std::size_t dot = range.find('.');
			auto origin = url_number(range.substr(0, dot), false);
			if (!slash || !origin)
				return false;
			url.partial = true;
			url.origin = *origin;
			if (dot != std::string_view::npos) {
				auto length = url_number(range.substr(dot + 1), true);
				if (!length)
					return false;
				url.length = *length;
			}
			step = done;
		} else {
			// ;EXPIRE= and ;URLAUTH= (RFC 4467) among them: not offered here.
			return false;
		}
		slash = ends_slash;
	}
	// A '/' must lead somewhere.
	return have_uid && !slash;
}

bool parse_mailbox(std::string_view enc, ImapUrl &url)
{
	auto name = percent_decode(enc);
	if (!name || name->empty())
		return false;
	auto m = utf8_to_mutf7(*name);
	if (!m)
		return false;
	url.mailbox = mailbox_name(std::move(*m));
	return true;
}

// "/mailbox;..." after the authority or as an absolute path.
bool parse_absolute_path(std::string_view path, ImapUrl &url)
{
	if (path.empty() || path[0] != '/')
		return false;
	path.remove_prefix(1);
	std::size_t semi = path.find(';');
	if (semi == std::string_view::npos || semi == 0)
		return false;
	std::string_view mailbox = path.substr(0, semi);
	bool slash = mailbox.back() == '/';
	if (slash)
		mailbox.remove_suffix(1);
	return parse_mailbox(mailbox, url) && parse_params(path.substr(semi), slash, true, url);
}

} // namespace

std::optional<ImapUrl> parse_imap_url(std::string_view s)
{
	ImapUrl url;
	if (starts_nocase(s, "imap://")) {
		s.remove_prefix(7);
		url.absolute = true;
		std::size_t slash = s.find('/');
		if (slash == std::string_view::npos)
			return std::nullopt;
		std::string_view authority = s.substr(0, slash);
		std::size_t at = authority.rfind('@');
		std::string_view host = authority;
		if (at != std::string_view::npos) {
			std::string_view userinfo = authority.substr(0, at);
			host = authority.substr(at + 1);
			// enc-user [";AUTH=" ("*" / enc-auth-type)]: how to log in, which does not matter
			// to a session that is logged in already.
			std::size_t semi = userinfo.find(';');
			if (semi != std::string_view::npos) {
				std::string_view auth = userinfo.substr(semi);
				if (!starts_nocase(auth, ";AUTH=") || auth.size() == 6)
					return std::nullopt;
				userinfo = userinfo.substr(0, semi);
			}
			auto user = percent_decode(userinfo);
			if (!user || user->empty())
				return std::nullopt;
			url.has_user = true;
			url.user = std::move(*user);
		}
		if (host.empty() || host.find_first_of("@;") != std::string_view::npos)
			return std::nullopt;
		if (!parse_absolute_path(s.substr(slash), url))
			return std::nullopt;
		return url;
	}
	if (!s.empty() && s[0] == '/') {
		// "//host/..." is a network-path reference, another server's.
		if (s.size() > 1 && s[1] == '/')
			return std::nullopt;
		if (!parse_absolute_path(s, url))
			return std::nullopt;
		return url;
	}
	if (starts_nocase(s, ";UID=")) {
		url.selected = true;
		if (!parse_params(s, true, false, url))
			return std::nullopt;
		return url;
	}
	return std::nullopt;
}

std::string url_resp_text(std::string_view url)
{
	static const char hex[] = "0123456789ABCDEF";
	std::string out;
	for (char ch : url) {
		auto c = static_cast<unsigned char>(ch);
		if (c < 0x20 || c >= 0x7f || c == ']') {
			out += '%';
			out += hex[c >> 4];
			out += hex[c & 15];
		} else {
			out += ch;
		}
	}
	if (out.empty())
		out = "%22%22"; // url-resp-text needs a character: the empty string, quoted
	return out;
}

} // namespace maild
