#include "imap/imap-message.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <tuple>
#include <utility>

namespace maild {

// One MIME entity: the whole message, a part of a multipart, or the message inside a
// message/rfc822 part. Header and body are views of the stored message; the MIME fields are kept
// raw (folded) and only turned into text when a BODYSTRUCTURE is written.
struct ImapMessage::Part {
	enum class Kind : std::uint8_t { leaf, multipart, message };
	Kind kind = Kind::leaf;
	std::string_view header; // with its blank line, when it has one
	std::string_view body;
	std::string type, subtype; // upper-cased
	std::vector<std::pair<std::string, std::string>> params; // names upper-cased, values as sent
	std::optional<std::string_view> encoding, id, description, md5, disposition, language, location;
	// multipart: its parts (at least one); message: exactly one, the encapsulated message.
	std::vector<Part> children;
};

namespace {

using Part = ImapMessage::Part;

bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

char upper_char(char c)
{
	return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool iequals(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); i++)
		if (upper_char(a[i]) != upper_char(b[i]))
			return false;
	return true;
}

std::string upper(std::string_view s)
{
	std::string out(s);
	for (char &c : out)
		c = upper_char(c);
	return out;
}

// The position after the LF that ends the line starting at pos (or the end of s).
std::size_t next_line(std::string_view s, std::size_t pos)
{
	if (pos >= s.size())
		return s.size(); // also keeps the null data() of an empty view away from memchr
	const void *nl = std::memchr(s.data() + pos, '\n', s.size() - pos);
	return nl == nullptr ? s.size() : static_cast<std::size_t>(static_cast<const char *>(nl) - s.data()) + 1;
}

bool is_blank_line(std::string_view line)
{
	return line == "\n" || line == "\r\n";
}

// The line count IMAP reports for text (RFC 3501 body-fld-lines): every line, including a last
// one without a line end, which is how a MIME part always ends (its CRLF belongs to the boundary).
std::uint64_t count_lines(std::string_view s)
{
	auto lines = static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
	if (!s.empty() && s.back() != '\n')
		lines++;
	return lines;
}

// An entity is split at its first empty line (RFC 5322 2.1); without one it is all header.
std::pair<std::string_view, std::string_view> split_entity(std::string_view entity)
{
	for (std::size_t pos = 0; pos < entity.size();) {
		std::size_t next = next_line(entity, pos);
		if (is_blank_line(entity.substr(pos, next - pos)))
			return {entity.substr(0, next), entity.substr(next)};
		pos = next;
	}
	return {entity, entity.substr(entity.size())};
}

// One header field: its first line and the continuation lines that start with white space.
struct HeaderField {
	std::string_view name;  // before the colon, trailing white space dropped; empty without colon
	std::string_view value; // after the colon, still folded, without the last line end
	std::string_view lines; // the whole field with its line ends, as HEADER.FIELDS sends it
};

// Calls fn(field) for each field up to the blank line; fn returns false to stop.
template <typename Fn> void for_each_field(std::string_view header, Fn &&fn)
{
	std::size_t pos = 0;
	while (pos < header.size()) {
		std::size_t start = pos;
		std::size_t first_end = next_line(header, pos);
		std::string_view first = header.substr(start, first_end - start);
		if (is_blank_line(first))
			return;
		pos = first_end;
		while (pos < header.size() && is_wsp(header[pos]))
			pos = next_line(header, pos);

		HeaderField f;
		f.lines = header.substr(start, pos - start);
		std::size_t colon = first.find(':');
		// A continuation line with nothing before it, or a line without a colon, is kept as a
		// nameless field: it is header text (HEADER, HEADER.FIELDS.NOT) but matches no name.
		if (!is_wsp(first.front()) && colon != std::string_view::npos) {
			f.name = first.substr(0, colon);
			while (!f.name.empty() && is_wsp(f.name.back()))
				f.name.remove_suffix(1);
			f.value = f.lines.substr(colon + 1);
			if (!f.value.empty() && f.value.back() == '\n')
				f.value.remove_suffix(1);
			if (!f.value.empty() && f.value.back() == '\r')
				f.value.remove_suffix(1);
		}
		if (!fn(f))
			return;
	}
}

// Unfolding removes each line end inside a field (RFC 5322 2.2.3: they are all followed by white
// space); the white space after the colon goes too.
std::string unfold(std::string_view v)
{
	std::string out;
	out.reserve(v.size());
	for (std::size_t i = 0; i < v.size(); i++) {
		char c = v[i];
		if (c == '\n' || (c == '\r' && i + 1 < v.size() && v[i + 1] == '\n'))
			continue;
		if (out.empty() && is_wsp(c))
			continue;
		out += c;
	}
	return out;
}

std::string unfold_trimmed(std::string_view v)
{
	std::string out = unfold(v);
	while (!out.empty() && is_wsp(out.back()))
		out.pop_back();
	return out;
}

// ---- IMAP strings (RFC 3501 4.3) ----

// A quoted string when it can be one, else a literal: quoted strings cannot hold CR, LF or 8-bit
// bytes. NUL is allowed in neither form, so it is dropped.
void append_string(std::string &out, std::string_view s)
{
	bool literal = false;
	std::size_t nuls = 0;
	for (char c : s) {
		auto u = static_cast<unsigned char>(c);
		if (c == '\r' || c == '\n' || u >= 0x80)
			literal = true;
		else if (c == '\0')
			nuls++;
	}
	if (literal) {
		out += '{';
		out += std::to_string(s.size() - nuls);
		out += "}\r\n";
		for (char c : s)
			if (c != '\0')
				out += c;
		return;
	}
	out += '"';
	for (char c : s) {
		if (c == '\0')
			continue;
		if (c == '"' || c == '\\')
			out += '\\';
		out += c;
	}
	out += '"';
}

void append_nstring(std::string &out, const std::optional<std::string> &s)
{
	if (s)
		append_string(out, *s);
	else
		out += "NIL";
}

// ---- RFC 2045 structured fields: Content-Type, Content-Disposition ----

// A cursor over an unfolded field value.
struct Cursor {
	std::string_view s;
	std::size_t i = 0;

	bool at_end() const { return i >= s.size(); }
	char peek() const { return at_end() ? '\0' : s[i]; }
};

// Skips a comment starting at '(' (they nest and have quoted-pairs); an unclosed one runs to the
// end. Returns its text without the outer parentheses.
std::string skip_comment(Cursor &c)
{
	std::string text;
	int depth = 0;
	while (!c.at_end()) {
		char ch = c.s[c.i++];
		if (ch == '\\' && !c.at_end()) {
			text += c.s[c.i++];
			continue;
		}
		if (ch == '(' && depth++ == 0)
			continue;
		if (ch == ')' && --depth == 0)
			break;
		text += ch;
	}
	return text;
}

void skip_cfws(Cursor &c)
{
	while (!c.at_end()) {
		char ch = c.peek();
		if (is_wsp(ch) || ch == '\r' || ch == '\n')
			c.i++;
		else if (ch == '(')
			skip_comment(c);
		else
			break;
	}
}

// A quoted string starting at '"', without quotes and quoted-pair backslashes; an unclosed one
// runs to the end.
std::string read_quoted(Cursor &c)
{
	std::string out;
	c.i++;
	while (!c.at_end()) {
		char ch = c.s[c.i++];
		if (ch == '"')
			break;
		if (ch == '\\' && !c.at_end())
			ch = c.s[c.i++];
		out += ch;
	}
	return out;
}

bool is_token_char(char c)
{
	auto u = static_cast<unsigned char>(c);
	return u > 0x20 && u < 0x7f && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

std::string_view read_token(Cursor &c)
{
	std::size_t start = c.i;
	while (!c.at_end() && is_token_char(c.peek()))
		c.i++;
	return c.s.substr(start, c.i - start);
}

// Moves to the next ';' outside quotes and comments (or the end): how a broken parameter is
// skipped without losing the ones after it.
void skip_to_semicolon(Cursor &c)
{
	while (!c.at_end() && c.peek() != ';') {
		if (c.peek() == '"')
			read_quoted(c);
		else if (c.peek() == '(')
			skip_comment(c);
		else
			c.i++;
	}
}

// *(";" attribute "=" value). Unquoted values are taken leniently up to white space, ';' or a
// comment, since real mailers write boundaries like ----=_Part_1 without quotes.
std::vector<std::pair<std::string, std::string>> parse_params(Cursor &c)
{
	std::vector<std::pair<std::string, std::string>> params;
	for (;;) {
		skip_cfws(c);
		if (c.at_end())
			break;
		if (c.peek() != ';') {
			skip_to_semicolon(c);
			continue;
		}
		c.i++;
		skip_cfws(c);
		std::string_view attr = read_token(c);
		skip_cfws(c);
		if (attr.empty() || c.peek() != '=') {
			skip_to_semicolon(c);
			continue;
		}
		c.i++;
		skip_cfws(c);
		std::string value;
		if (c.peek() == '"') {
			value = read_quoted(c);
		} else {
			std::size_t start = c.i;
			while (!c.at_end()) {
				char ch = c.peek();
				if (is_wsp(ch) || ch == ';' || ch == '(' || ch == '"' || ch == '\r' || ch == '\n')
					break;
				c.i++;
			}
			value = c.s.substr(start, c.i - start);
		}
		params.emplace_back(upper(attr), std::move(value));
	}
	return params;
}

// type "/" subtype *(";" parameter); false when type or subtype is missing, which RFC 2045 5.2
// says to read as text/plain; charset=us-ascii.
bool parse_content_type(std::string_view value, Part &p)
{
	std::string v = unfold(value);
	Cursor c{v};
	skip_cfws(c);
	std::string_view type = read_token(c);
	skip_cfws(c);
	if (type.empty() || c.peek() != '/')
		return false;
	c.i++;
	skip_cfws(c);
	std::string_view subtype = read_token(c);
	if (subtype.empty())
		return false;
	p.type = upper(type);
	p.subtype = upper(subtype);
	p.params = parse_params(c);
	return true;
}

const std::string *find_param(const Part &p, std::string_view name)
{
	for (const auto &[k, v] : p.params)
		if (k == name)
			return &v;
	return nullptr;
}

// The first token of a field (Content-Transfer-Encoding, a disposition type), upper-cased.
std::string first_token(std::string_view value)
{
	std::string v = unfold(value);
	Cursor c{v};
	skip_cfws(c);
	return upper(read_token(c));
}

// ---- MIME tree ----

// Splits a multipart body at its boundary delimiter lines (RFC 2046 5.1.1): a line starting with
// "--" boundary (only the prefix is compared, as RFC 2046 asks), the line end before it belonging to
// the delimiter. The preamble and epilogue are dropped; without a close delimiter the last part runs
// to the end. At most `limit` parts: further delimiters stay inside the last part.
std::vector<std::string_view> split_multipart(std::string_view body, std::string_view boundary, std::size_t limit)
{
	std::vector<std::string_view> parts;
	bool in_part = false;
	std::size_t part_start = 0;
	auto close_part = [&](std::size_t delimiter_line) {
		std::size_t end = delimiter_line;
		if (end > 0 && body[end - 1] == '\n')
			end--;
		if (end > 0 && body[end - 1] == '\r')
			end--;
		end = std::max(end, part_start);
		parts.push_back(body.substr(part_start, end - part_start));
	};
	for (std::size_t pos = 0; pos < body.size();) {
		std::size_t next = next_line(body, pos);
		std::string_view line = body.substr(pos, next - pos);
		if (line.size() >= 2 + boundary.size() && line[0] == '-' && line[1] == '-' &&
		    line.substr(2, boundary.size()) == boundary) {
			std::string_view rest = line.substr(2 + boundary.size());
			if (rest.size() >= 2 && rest[0] == '-' && rest[1] == '-') {
				if (in_part)
					close_part(pos);
				return parts;
			}
			if (!in_part) {
				in_part = true;
				part_start = next;
			} else if (parts.size() + 1 < limit) {
				close_part(pos);
				part_start = next;
			}
		}
		pos = next;
	}
	if (in_part)
		parts.push_back(body.substr(part_start));
	return parts;
}

// Builds the tree. Each level scans only its own part once, and depth is bounded, so the work is
// at most max_mime_depth passes over the message whatever the input.
class MimeParser {
public:
	void parse(Part &p, std::string_view entity, unsigned depth, bool in_digest)
	{
		std::tie(p.header, p.body) = split_entity(entity);
		std::optional<std::string_view> content_type;
		auto set = [](std::optional<std::string_view> &slot, std::string_view v) {
			if (!slot)
				slot = v;
		};
		for_each_field(p.header, [&](const HeaderField &f) {
			if (f.name.size() < 10 || !iequals(f.name.substr(0, 8), "Content-"))
				return true;
			std::string_view n = f.name.substr(8);
			if (iequals(n, "Type"))
				set(content_type, f.value);
			else if (iequals(n, "Transfer-Encoding"))
				set(p.encoding, f.value);
			else if (iequals(n, "ID"))
				set(p.id, f.value);
			else if (iequals(n, "Description"))
				set(p.description, f.value);
			else if (iequals(n, "MD5"))
				set(p.md5, f.value);
			else if (iequals(n, "Disposition"))
				set(p.disposition, f.value);
			else if (iequals(n, "Language"))
				set(p.language, f.value);
			else if (iequals(n, "Location"))
				set(p.location, f.value);
			return true;
		});

		if (!content_type || !parse_content_type(*content_type, p)) {
			// RFC 2046 5.1.5: parts of a digest default to message/rfc822.
			if (!content_type && in_digest) {
				p.type = "MESSAGE";
				p.subtype = "RFC822";
			} else {
				p.type = "TEXT";
				p.subtype = "PLAIN";
				p.params = {{"CHARSET", "US-ASCII"}};
			}
		}
		// RFC 2046 4.1.2: text without a charset is US-ASCII; said explicitly, as for no type.
		if (p.type == "TEXT" && p.params.empty())
			p.params = {{"CHARSET", "US-ASCII"}};

		if (p.type == "MULTIPART") {
			const std::string *boundary = find_param(p, "BOUNDARY");
			std::vector<std::string_view> ranges;
			if (boundary != nullptr && !boundary->empty() && depth < ImapMessage::max_mime_depth &&
			    parts_left_ > 0)
				ranges = split_multipart(p.body, *boundary, parts_left_);
			// BODYSTRUCTURE cannot express a multipart without parts.
			if (ranges.empty())
				return make_opaque(p);
			parts_left_ -= ranges.size();
			p.kind = Part::Kind::multipart;
			p.children.resize(ranges.size());
			bool digest = p.subtype == "DIGEST";
			for (std::size_t i = 0; i < ranges.size(); i++)
				parse(p.children[i], ranges[i], depth + 1, digest);
		} else if (p.type == "MESSAGE" && p.subtype == "RFC822") {
			// A base64 or quoted-printable message/rfc822 (forbidden by RFC 2046 5.2.1, yet sent)
			// has no readable header: it can only be an attachment.
			std::string enc = p.encoding ? first_token(*p.encoding) : std::string();
			if (depth >= ImapMessage::max_mime_depth || parts_left_ == 0 || enc == "BASE64" ||
			    enc == "QUOTED-PRINTABLE")
				return make_opaque(p);
			parts_left_--;
			p.kind = Part::Kind::message;
			p.children.resize(1);
			parse(p.children[0], p.body, depth + 1, false);
		}
	}

private:
	// A composite part that cannot be taken apart is sent as bytes. The media-message form has to
	// have an envelope and a multipart has to have parts, so the type changes too.
	static void make_opaque(Part &p)
	{
		p.kind = Part::Kind::leaf;
		p.type = "APPLICATION";
		p.subtype = "OCTET-STREAM";
	}

	std::size_t parts_left_ = ImapMessage::max_mime_parts;
};

// ---- Addresses (RFC 5322 3.4) for the ENVELOPE ----

struct AddrToken {
	enum class Kind : std::uint8_t { word, special, comment, end };
	Kind kind = Kind::end;
	char special = 0;
	bool space_before = false; // white space or a comment came first: phrases keep one space
	std::string text;          // word: atom, quoted-string content or domain literal
};

class AddrLexer {
public:
	explicit AddrLexer(std::string_view s) : c_{s} {}

	AddrToken next()
	{
		AddrToken t;
		for (;;) {
			while (!c_.at_end() && (is_wsp(c_.peek()) || c_.peek() == '\r' || c_.peek() == '\n')) {
				c_.i++;
				t.space_before = true;
			}
			if (c_.at_end())
				return t;
			char ch = c_.peek();
			if (ch == ')') { // stray: nothing to pair it with
				c_.i++;
				t.space_before = true;
				continue;
			}
			if (ch == '(') {
				t.kind = AddrToken::Kind::comment;
				t.text = skip_comment(c_);
				return t;
			}
			t.kind = AddrToken::Kind::word;
			if (ch == '"') {
				t.text = read_quoted(c_);
				return t;
			}
			if (ch == '[') { // domain literal, brackets kept
				while (!c_.at_end()) {
					char d = c_.s[c_.i++];
					if (d == '\\' && !c_.at_end())
						d = c_.s[c_.i++];
					t.text += d;
					if (d == ']')
						break;
				}
				return t;
			}
			if (std::strchr("<>:;@,.", ch) != nullptr) {
				t.kind = AddrToken::Kind::special;
				t.special = ch;
				c_.i++;
				return t;
			}
			while (!c_.at_end()) {
				char d = c_.peek();
				if (is_wsp(d) || d == '\r' || d == '\n' || std::strchr("()<>:;@,.\"[", d) != nullptr)
					break;
				t.text += d;
				c_.i++;
			}
			return t;
		}
	}

private:
	Cursor c_;
};

struct ImapAddress {
	std::optional<std::string> name, mailbox, host;
};

// Words and specials as written, one space where the source had white space: display names and
// group names ("John Q. Public").
std::optional<std::string> make_phrase(const std::vector<AddrToken> &tokens)
{
	std::string out;
	for (const auto &t : tokens) {
		if (t.kind == AddrToken::Kind::comment)
			continue;
		if (!out.empty() && t.space_before)
			out += ' ';
		if (t.kind == AddrToken::Kind::special)
			out += t.special;
		else
			out += t.text;
	}
	if (out.empty())
		return std::nullopt;
	return out;
}

// local-part "@" domain with the quoting and the obsolete white space around dots removed. A
// missing domain is an empty host, not NIL, which would make the address a group marker.
void fill_addr_spec(const std::vector<AddrToken> &tokens, ImapAddress &a)
{
	std::string local, domain;
	bool at = false;
	bool last_was_word = false;
	for (const auto &t : tokens) {
		if (t.kind == AddrToken::Kind::comment)
			continue;
		if (t.kind == AddrToken::Kind::special && t.special == '@' && !at) {
			at = true;
			last_was_word = false;
			continue;
		}
		std::string &s = at ? domain : local;
		bool word = t.kind == AddrToken::Kind::word;
		if (word && last_was_word && t.space_before)
			s += ' ';
		if (word)
			s += t.text;
		else
			s += t.special;
		last_was_word = word;
	}
	a.mailbox = std::move(local);
	a.host = std::move(domain);
}

// An ENVELOPE repeats From up to three times at about 17 bytes per address, so a header of
// nothing but "a@b," would grow tenfold on the wire; past this many entries a list is cut.
constexpr std::size_t max_addresses = 10000;

// Calls emit(address) for each address and group marker of an address-list, in order.
template <typename Emit> void parse_addresses(std::string_view value, Emit &&emit)
{
	std::size_t left = max_addresses;
	std::string v = unfold(value);
	AddrLexer lex(v);
	std::vector<AddrToken> pending; // the current address so far, when it has no angle brackets
	ImapAddress angle;              // the current address, once its <...> is read
	bool have_angle = false;
	bool in_group = false;
	std::optional<std::string> comment;

	auto finish = [&] {
		ImapAddress a;
		if (have_angle)
			a = std::move(angle);
		else if (!pending.empty())
			fill_addr_spec(pending, a);
		// An old-style "user@host (Real Name)" names the address with its comment.
		if (!a.name && comment)
			a.name = comment;
		bool empty = !a.name && (!a.mailbox || a.mailbox->empty()) && (!a.host || a.host->empty());
		if (!empty && left > 0) {
			emit(a);
			left--;
		}
		pending.clear();
		angle = {};
		have_angle = false;
		comment.reset();
	};
	auto end_group = [&] {
		emit(ImapAddress{});
		in_group = false;
	};

	while (left > 0) {
		AddrToken t = lex.next();
		if (t.kind == AddrToken::Kind::end)
			break;
		if (t.kind == AddrToken::Kind::comment) {
			std::string text = unfold_trimmed(t.text);
			if (!comment && !text.empty())
				comment = std::move(text);
			continue;
		}
		if (t.kind == AddrToken::Kind::special) {
			if (t.special == ',') {
				finish();
				continue;
			}
			if (t.special == ';') {
				finish();
				if (in_group)
					end_group();
				continue;
			}
			if (t.special == ':' && !in_group && !have_angle) {
				// RFC 3501 7.4.2: a group starts with NIL host and the group name as mailbox.
				ImapAddress start;
				start.mailbox = make_phrase(pending).value_or(std::string());
				emit(start);
				left--;
				pending.clear();
				comment.reset();
				in_group = true;
				continue;
			}
			if (t.special == '<' && !have_angle) {
				angle.name = make_phrase(pending);
				pending.clear();
				have_angle = true;
				// Inside the brackets: an obsolete route ("@a,@b:") is dropped at its ':'; a
				// ',' after the start of the address means the '>' is missing.
				std::vector<AddrToken> inner;
				bool ended_by_comma = false;
				for (;;) {
					AddrToken u = lex.next();
					if (u.kind == AddrToken::Kind::end ||
					    (u.kind == AddrToken::Kind::special && u.special == '>'))
						break;
					if (u.kind == AddrToken::Kind::comment)
						continue;
					if (u.kind == AddrToken::Kind::special && u.special == ':') {
						inner.clear();
						continue;
					}
					if (u.kind == AddrToken::Kind::special && u.special == ',') {
						bool route = !inner.empty() && inner.front().kind == AddrToken::Kind::special &&
							     inner.front().special == '@';
						if (route)
							continue;
						ended_by_comma = true;
						break;
					}
					inner.push_back(std::move(u));
				}
				fill_addr_spec(inner, angle);
				if (ended_by_comma)
					finish();
				continue;
			}
		}
		// Words after the <...> of an address are junk; everything else builds the address.
		if (!have_angle)
			pending.push_back(std::move(t));
	}
	finish();
	// A group left open (unterminated, or cut at the limit) still gets its end marker.
	if (in_group)
		end_group();
}

void append_address_list(std::string &out, std::optional<std::string_view> value)
{
	bool any = false;
	if (value) {
		parse_addresses(*value, [&](const ImapAddress &a) {
			out += any ? "(" : "((";
			any = true;
			append_nstring(out, a.name);
			out += " NIL "; // the source route (adl) is obsolete and never sent
			append_nstring(out, a.mailbox);
			out += ' ';
			append_nstring(out, a.host);
			out += ')';
		});
	}
	out += any ? ")" : "NIL";
}

// ---- ENVELOPE and BODYSTRUCTURE ----

std::optional<std::string> field_text(std::optional<std::string_view> raw)
{
	if (!raw)
		return std::nullopt;
	return unfold(*raw);
}

std::string envelope_of(std::string_view header)
{
	enum { date, subject, from, sender, reply_to, to, cc, bcc, in_reply_to, message_id, count };
	static constexpr std::array<std::string_view, count> names = {
		"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID"};
	std::array<std::optional<std::string_view>, count> v;
	for_each_field(header, [&](const HeaderField &f) {
		for (std::size_t k = 0; k < count; k++)
			if (!v[k] && iequals(f.name, names[k]))
				v[k] = f.value;
		return true;
	});

	std::string out = "(";
	append_nstring(out, field_text(v[date]));
	out += ' ';
	append_nstring(out, field_text(v[subject]));
	std::string from_list;
	append_address_list(from_list, v[from]);
	out += ' ';
	out += from_list;
	// RFC 3501 7.4.2: an absent or empty Sender or Reply-To is the From.
	for (auto k : {sender, reply_to}) {
		std::string list;
		append_address_list(list, v[k]);
		out += ' ';
		out += list == "NIL" ? from_list : list;
	}
	for (auto k : {to, cc, bcc}) {
		out += ' ';
		append_address_list(out, v[k]);
	}
	out += ' ';
	append_nstring(out, field_text(v[in_reply_to]));
	out += ' ';
	append_nstring(out, field_text(v[message_id]));
	out += ')';
	return out;
}

std::optional<std::string> mime_text(std::optional<std::string_view> raw)
{
	if (!raw)
		return std::nullopt;
	std::string s = unfold_trimmed(*raw);
	if (s.empty())
		return std::nullopt;
	return s;
}

void append_params(std::string &out, const std::vector<std::pair<std::string, std::string>> &params)
{
	if (params.empty()) {
		out += "NIL";
		return;
	}
	out += '(';
	bool first = true;
	for (const auto &[k, v] : params) {
		if (!first)
			out += ' ';
		first = false;
		append_string(out, k);
		out += ' ';
		append_string(out, v);
	}
	out += ')';
}

// body-fld-dsp body-fld-lang body-fld-loc, the extension data both part kinds end with.
void append_dsp_lang_loc(std::string &out, const Part &p)
{
	out += ' ';
	std::string dsp;
	std::vector<std::pair<std::string, std::string>> dsp_params;
	if (p.disposition) {
		std::string v = unfold(*p.disposition);
		Cursor c{v};
		skip_cfws(c);
		dsp = upper(read_token(c));
		dsp_params = parse_params(c);
	}
	if (dsp.empty()) {
		out += "NIL";
	} else {
		out += '(';
		append_string(out, dsp);
		out += ' ';
		append_params(out, dsp_params);
		out += ')';
	}

	out += ' ';
	std::vector<std::string> tags;
	if (p.language) {
		// Language-List (RFC 3282): tags separated by commas, comments allowed.
		std::string v = unfold(*p.language);
		Cursor c{v};
		while (!c.at_end()) {
			skip_cfws(c);
			std::size_t start = c.i;
			while (!c.at_end() && c.peek() != ',' && c.peek() != '(' && !is_wsp(c.peek()))
				c.i++;
			if (c.i > start)
				tags.emplace_back(c.s.substr(start, c.i - start));
			else if (!c.at_end())
				c.i++; // the comma
		}
	}
	if (tags.empty()) {
		out += "NIL";
	} else {
		out += '(';
		for (std::size_t i = 0; i < tags.size(); i++) {
			if (i > 0)
				out += ' ';
			append_string(out, tags[i]);
		}
		out += ')';
	}

	out += ' ';
	append_nstring(out, mime_text(p.location));
}

void append_body(std::string &out, const Part &p, bool extensible)
{
	out += '(';
	if (p.kind == Part::Kind::multipart) {
		for (const Part &child : p.children)
			append_body(out, child, extensible);
		out += ' ';
		append_string(out, p.subtype);
		if (extensible) {
			out += ' ';
			append_params(out, p.params);
			append_dsp_lang_loc(out, p);
		}
		out += ')';
		return;
	}

	append_string(out, p.type);
	out += ' ';
	append_string(out, p.subtype);
	out += ' ';
	append_params(out, p.params);
	out += ' ';
	append_nstring(out, mime_text(p.id));
	out += ' ';
	append_nstring(out, mime_text(p.description));
	out += ' ';
	std::string enc = p.encoding ? first_token(*p.encoding) : std::string();
	append_string(out, enc.empty() ? "7BIT" : enc);
	out += ' ';
	out += std::to_string(crlf_size(p.body));
	if (p.kind == Part::Kind::message) {
		const Part &inner = p.children.front();
		out += ' ';
		out += envelope_of(inner.header);
		out += ' ';
		append_body(out, inner, extensible);
		out += ' ';
		out += std::to_string(count_lines(p.body));
	} else if (p.type == "TEXT") {
		out += ' ';
		out += std::to_string(count_lines(p.body));
	}
	if (extensible) {
		out += ' ';
		append_nstring(out, mime_text(p.md5));
		append_dsp_lang_loc(out, p);
	}
	out += ')';
}

// ---- Date (RFC 5322 3.3) ----

struct DateToken {
	char kind = 0; // 'n' digits, 'a' letters, or the character itself
	std::string_view text;
};

std::optional<std::uint32_t> small_number(const DateToken &t, std::size_t max_digits)
{
	if (t.kind != 'n' || t.text.size() > max_digits)
		return std::nullopt;
	std::uint32_t n = 0;
	for (char c : t.text)
		n = n * 10 + static_cast<std::uint32_t>(c - '0');
	return n;
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d)
{
	static constexpr std::array<unsigned, 12> before_month = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	std::int64_t y1 = y - 1; // whole years since 0001-01-01
	std::int64_t days = y1 * 365 + y1 / 4 - y1 / 100 + y1 / 400 + before_month[m - 1] + (m > 2 && leap ? 1 : 0) + d - 1;
	return days - 719162; // 1970-01-01
}

} // namespace

std::optional<MessageDate> parse_message_date(std::string_view value)
{
	// Tokens, with white space and comments skipped. A date has about a dozen; more is junk.
	std::string v = unfold(value);
	Cursor c{v};
	std::vector<DateToken> toks;
	while (toks.size() < 16) {
		skip_cfws(c);
		if (c.at_end())
			break;
		std::size_t start = c.i;
		char ch = c.peek();
		DateToken t;
		if (ch >= '0' && ch <= '9') {
			while (!c.at_end() && c.peek() >= '0' && c.peek() <= '9')
				c.i++;
			t.kind = 'n';
		} else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
			while (!c.at_end() && ((c.peek() >= 'a' && c.peek() <= 'z') || (c.peek() >= 'A' && c.peek() <= 'Z')))
				c.i++;
			t.kind = 'a';
		} else {
			c.i++;
			t.kind = ch;
		}
		t.text = std::string_view(v).substr(start, c.i - start);
		toks.push_back(t);
	}
	std::size_t i = 0;
	auto at = [&](std::size_t k) { return k < toks.size() ? toks[k] : DateToken{}; };

	if (at(i).kind == 'a') { // day-of-week, its comma optional
		i++;
		if (at(i).kind == ',')
			i++;
	}
	auto day = small_number(at(i++), 2);
	if (at(i).kind == '-') // 17-Jul-1996
		i++;
	static constexpr std::array<std::string_view, 12> months = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
								      "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
	unsigned month = 0;
	if (at(i).kind == 'a' && at(i).text.size() >= 3) {
		std::string m = upper(at(i).text.substr(0, 3));
		for (unsigned k = 0; k < months.size(); k++)
			if (m == months[k])
				month = k + 1;
	}
	i++;
	if (at(i).kind == '-')
		i++;
	std::size_t year_digits = at(i).text.size();
	auto year = small_number(at(i++), 4);
	if (!day || *day < 1 || *day > 31 || month == 0 || !year || year_digits < 2)
		return std::nullopt;
	// RFC 5322 4.3: two-digit years below 50 are 20xx, other short years add 1900.
	if (year_digits == 2)
		*year += *year < 50 ? 2000 : 1900;
	else if (year_digits == 3)
		*year += 1900;
	if (*year < 1)
		return std::nullopt;

	auto hour = small_number(at(i++), 2);
	if (at(i++).kind != ':')
		return std::nullopt;
	auto minute = small_number(at(i++), 2);
	std::optional<std::uint32_t> second = 0;
	if (at(i).kind == ':') {
		second = small_number(at(i + 1), 2);
		i += 2;
	}
	if (!hour || !minute || !second || *hour > 23 || *minute > 59 || *second > 60)
		return std::nullopt;

	// Zone: +hhmm / -hhmm, or an obsolete name. Military letters and unknown names mean "no zone
	// information" (RFC 5322 4.3), as does a missing zone: UTC.
	std::int32_t zone = 0;
	DateToken z = at(i);
	if ((z.kind == '+' || z.kind == '-') && at(i + 1).kind == 'n' && at(i + 1).text.size() == 4) {
		auto hhmm = *small_number(at(i + 1), 4);
		if (hhmm % 100 > 59)
			return std::nullopt;
		zone = static_cast<std::int32_t>((hhmm / 100) * 3600 + (hhmm % 100) * 60);
		if (z.kind == '-')
			zone = -zone;
	} else if (z.kind == 'a') {
		static constexpr std::array<std::pair<std::string_view, int>, 8> names = {
			{{"EST", -5}, {"EDT", -4}, {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}}};
		std::string n = upper(z.text);
		for (const auto &[name, hours] : names)
			if (n == name)
				zone = hours * 3600;
	}

	MessageDate d;
	d.zone_offset = zone;
	d.unix_time = days_from_civil(*year, month, *day) * 86400 + std::int64_t{*hour} * 3600 +
		      std::int64_t{*minute} * 60 + std::int64_t{*second} - zone;
	return d;
}

ImapMessage::ImapMessage(std::string_view raw) : raw_(raw), root_(std::make_unique<Part>())
{
	MimeParser().parse(*root_, raw_, 0, false);
}

ImapMessage::~ImapMessage() = default;
ImapMessage::ImapMessage(ImapMessage &&) noexcept = default;
ImapMessage &ImapMessage::operator=(ImapMessage &&) noexcept = default;

std::string ImapMessage::envelope() const
{
	return envelope_of(root_->header);
}

std::string ImapMessage::bodystructure(bool extensible) const
{
	std::string out;
	append_body(out, *root_, extensible);
	return out;
}

namespace {

const Part *child(const Part &p, std::uint32_t n)
{
	if (n < 1 || n > p.children.size())
		return nullptr;
	return &p.children[n - 1];
}

// Part n of a message (RFC 3501 6.4.5): of a multipart message, its n-th part; of any other
// message, part 1 is the message's own body (so its MIME header is the message header).
const Part *message_part(const Part &msg, std::uint32_t n)
{
	if (msg.kind == Part::Kind::multipart)
		return child(msg, n);
	return n == 1 ? &msg : nullptr;
}

} // namespace

std::optional<SectionData> ImapMessage::section(const std::vector<std::uint32_t> &part, SectionPart what,
						const std::vector<std::string> &fields) const
{
	const Part *p = nullptr;
	if (!part.empty()) {
		p = message_part(*root_, part[0]);
		for (std::size_t i = 1; p != nullptr && i < part.size(); i++) {
			if (p->kind == Part::Kind::multipart)
				p = child(*p, part[i]);
			else if (p->kind == Part::Kind::message)
				p = message_part(p->children.front(), part[i]);
			else
				p = nullptr;
		}
		if (p == nullptr)
			return std::nullopt;
	}

	SectionData d;
	if (what == SectionPart::whole) {
		d.range = p != nullptr ? p->body : raw_;
		return d;
	}
	if (what == SectionPart::mime) {
		if (p == nullptr)
			return std::nullopt;
		d.range = p->header;
		return d;
	}
	// HEADER, HEADER.FIELDS[.NOT] and TEXT are of a message: the top one, or a message/rfc822's.
	const Part *msg = root_.get();
	if (p != nullptr) {
		if (p->kind != Part::Kind::message)
			return std::nullopt;
		msg = &p->children.front();
	}
	if (what == SectionPart::header) {
		d.range = msg->header;
		return d;
	}
	if (what == SectionPart::text) {
		d.range = msg->body;
		return d;
	}

	std::vector<std::string> wanted;
	wanted.reserve(fields.size());
	for (const auto &f : fields)
		wanted.push_back(upper(f));
	std::sort(wanted.begin(), wanted.end());
	bool want_match = what == SectionPart::header_fields;
	d.is_range = false;
	for_each_field(msg->header, [&](const HeaderField &f) {
		bool match = !f.name.empty() && std::binary_search(wanted.begin(), wanted.end(), upper(f.name));
		if (match == want_match) {
			bool cr = false;
			append_crlf(f.lines, d.text, cr);
			// The last field of a header cut off at the end of the file has no line end.
			if (f.lines.back() != '\n')
				d.text += cr ? "\n" : "\r\n";
		}
		return true;
	});
	d.text += "\r\n";
	return d;
}

std::optional<std::string> ImapMessage::header_value(std::string_view name) const
{
	std::optional<std::string> value;
	if (name.empty())
		return value;
	for_each_field(root_->header, [&](const HeaderField &f) {
		if (!iequals(f.name, name))
			return true;
		value = unfold(f.value);
		return false;
	});
	return value;
}

std::optional<MessageDate> ImapMessage::date_with_zone() const
{
	auto v = header_value("Date");
	if (!v)
		return std::nullopt;
	return parse_message_date(*v);
}

std::optional<std::int64_t> ImapMessage::date() const
{
	auto d = date_with_zone();
	if (!d)
		return std::nullopt;
	return d->unix_time;
}

std::string_view ImapMessage::header() const
{
	return root_->header;
}

std::string_view ImapMessage::body() const
{
	return root_->body;
}

} // namespace maild
