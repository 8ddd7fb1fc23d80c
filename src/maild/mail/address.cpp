#include "mail/address.hpp"

#include "mail/header.hpp"
#include "mail/lexer.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

namespace maild {

namespace {

struct AddrToken {
	enum class Kind : std::uint8_t { word, special, comment, end };
	Kind kind = Kind::end;
	char special = 0;
	bool space_before = false; // white space or a comment came first: phrases keep one space
	std::string text;          // word: atom, quoted-string content or domain literal

	bool is(char c) const { return kind == Kind::special && special == c; }
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
			read_word_or_special(t, ch);
			return t;
		}
	}

private:
	void read_word_or_special(AddrToken &t, char ch)
	{
		t.kind = AddrToken::Kind::word;
		if (ch == '"') {
			t.text = read_quoted(c_);
			return;
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
			return;
		}
		if (std::strchr("<>:;@,.", ch) != nullptr) {
			t.kind = AddrToken::Kind::special;
			t.special = ch;
			c_.i++;
			return;
		}
		while (!c_.at_end()) {
			char d = c_.peek();
			if (is_wsp(d) || d == '\r' || d == '\n' || std::strchr("()<>:;@,.\"[", d) != nullptr)
				break;
			t.text += d;
			c_.i++;
		}
	}

	Cursor c_;
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
// missing domain is an empty host, not nothing, which would make the address a group marker.
void fill_addr_spec(const std::vector<AddrToken> &tokens, MailAddress &a)
{
	std::string local, domain;
	bool at = false;
	bool last_was_word = false;
	for (const auto &t : tokens) {
		if (t.kind == AddrToken::Kind::comment)
			continue;
		if (t.is('@') && !at) {
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

class AddressListParser {
public:
	AddressListParser(std::string_view unfolded, const std::function<void(const MailAddress &)> &emit)
		: lex_(unfolded), emit_(emit)
	{
	}

	void run()
	{
		while (left_ > 0) {
			AddrToken t = lex_.next();
			if (t.kind == AddrToken::Kind::end)
				break;
			if (t.kind == AddrToken::Kind::comment) {
				std::string text = unfold_trimmed(t.text);
				if (!comment_ && !text.empty())
					comment_ = std::move(text);
				continue;
			}
			if (t.is(',')) {
				finish();
			} else if (t.is(';')) {
				finish();
				if (in_group_)
					end_group();
			} else if (t.is(':') && !in_group_ && !have_angle_) {
				start_group();
			} else if (t.is('<') && !have_angle_) {
				read_angle();
			} else if (!have_angle_) {
				// Words after the <...> of an address are junk; everything else builds it.
				pending_.push_back(std::move(t));
			}
		}
		finish();
		if (in_group_)
			end_group();
	}

private:
	void finish()
	{
		MailAddress a;
		bool has_address = have_angle_ || !pending_.empty();
		if (have_angle_)
			a = std::move(angle_);
		else if (!pending_.empty())
			fill_addr_spec(pending_, a);
		// An old-style "user@host (Real Name)" names the address with its comment; a comment
		// alone (as in an empty group "g: (none) ;") is no address.
		if (!a.name && comment_ && has_address)
			a.name = comment_;
		bool empty = !a.name && (!a.mailbox || a.mailbox->empty()) && (!a.host || a.host->empty());
		if (!empty && left_ > 0) {
			emit_(a);
			left_--;
		}
		pending_.clear();
		angle_ = {};
		have_angle_ = false;
		comment_.reset();
	}

	// RFC 3501 7.4.2: a group starts with no host and the group name as mailbox.
	void start_group()
	{
		MailAddress start;
		start.mailbox = make_phrase(pending_).value_or(std::string());
		emit_(start);
		left_--;
		pending_.clear();
		comment_.reset();
		in_group_ = true;
	}

	void end_group()
	{
		emit_(MailAddress{});
		in_group_ = false;
	}

	// Inside the brackets: an obsolete route ("@a,@b:") is kept apart at its ':' (RFC 3501's adl);
	// a ',' after the start of the address means the '>' is missing.
	void read_angle()
	{
		angle_.name = make_phrase(pending_);
		pending_.clear();
		have_angle_ = true;
		std::vector<AddrToken> inner;
		std::string route;
		bool ended_by_comma = false;
		auto route_text = [&] {
			for (const auto &t : inner)
				route += t.kind == AddrToken::Kind::special ? std::string(1, t.special) : t.text;
			inner.clear();
		};
		for (;;) {
			AddrToken u = lex_.next();
			if (u.kind == AddrToken::Kind::end || u.is('>'))
				break;
			if (u.kind == AddrToken::Kind::comment)
				continue;
			if (u.is(':')) {
				if (!inner.empty() && inner.front().is('@'))
					route_text();
				inner.clear();
				continue;
			}
			if (u.is(',')) {
				if (!inner.empty() && inner.front().is('@')) {
					route_text(); // a route
					route += ',';
					continue;
				}
				ended_by_comma = true;
				break;
			}
			inner.push_back(std::move(u));
		}
		if (!route.empty() && route.back() != ',')
			angle_.route = std::move(route);
		fill_addr_spec(inner, angle_);
		if (ended_by_comma)
			finish();
	}

	AddrLexer lex_;
	const std::function<void(const MailAddress &)> &emit_;
	std::size_t left_ = max_addresses;
	std::vector<AddrToken> pending_; // the current address so far, when it has no angle brackets
	MailAddress angle_;              // the current address, once its <...> is read
	bool have_angle_ = false;
	bool in_group_ = false;
	std::optional<std::string> comment_;
};

} // namespace

void parse_address_list(std::string_view value, const std::function<void(const MailAddress &)> &emit)
{
	std::string v = unfold(value);
	AddressListParser(v, emit).run();
}

} // namespace maild
