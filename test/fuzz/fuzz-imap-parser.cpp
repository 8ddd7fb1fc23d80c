// The IMAP command parser (imap-parser.hpp) against what its header promises: tags are
// ASTRING-CHARs but '+' and start the line; errors are fixed texts; decoded arguments never hold
// NUL; sequence sets hold nz-numbers (0 only for '*') and contains() matches a direct reading of
// the ranges; the result stays within a small multiple of the input; search keys nest at most
// max_search_depth; is_append_message_literal agrees with the parser, and the spec that ends an
// APPEND is its last message's (or that message's last CATENATE TEXT part's); literal_at_end reads the trailing "{n}"/"{n+}" and whether a "~"
// makes it a literal8; LIST patterns match as a simple model does; date-times and imap_quote
// round-trip (NUL, which no IMAP string can hold, dropped).
#include "fuzz-check.hpp"
#include "imap/imap-parser.hpp"
#include "imap/imap-url.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace maild;

namespace {

// ASTRING-CHAR (ATOM-CHAR or ']') but '+': no CTL, SP, 8-bit byte or ( ) { % * " \.
bool tag_char(unsigned char c)
{
	if (c <= ' ' || c >= 0x7f)
		return false;
	return std::strchr("(){%*\"\\+", c) == nullptr;
}

void check_error_text(const char *e)
{
	if (e == nullptr)
		return;
	std::string_view t(e);
	FUZZ_CHECK(!t.empty() && t.size() < 200);
	for (char c : t)
		FUZZ_CHECK(c >= 0x20 && c < 0x7f);
}

// 0 stands for '*'; anything else is an nz-number by construction. A set is never empty.
void check_set(const SequenceSet &set)
{
	FUZZ_CHECK(!set.ranges.empty());
}

bool model_contains(const SequenceSet &set, std::uint32_t n, std::uint32_t star)
{
	for (const SeqRange &r : set.ranges) {
		std::uint64_t a = r.first == 0 ? star : r.first, b = r.last == 0 ? star : r.last;
		if (a > b)
			std::swap(a, b);
		if (n >= a && n <= b)
			return true;
	}
	return false;
}

std::size_t search_size(const SearchKey &k, int depth, int &max_depth)
{
	if (depth > max_depth)
		max_depth = depth;
	std::size_t n = 1 + k.str.size() + k.value.size() + k.set.ranges.size();
	for (const SearchKey &c : k.children)
		n += search_size(c, depth + (k.op == SearchKey::Op::and_ && depth == 0 ? 0 : 1), max_depth);
	return n;
}

// '*' matches anything, '%' anything but the delimiter: the obvious DP over both strings.
bool model_match(std::string_view p, std::string_view n, char delim)
{
	std::vector<std::vector<char>> ok(p.size() + 1, std::vector<char>(n.size() + 1, 0));
	ok[p.size()][n.size()] = 1;
	for (std::size_t i = p.size(); i-- > 0;) {
		for (std::size_t j = n.size() + 1; j-- > 0;) {
			char c = p[i];
			bool r;
			if (c == '*')
				r = ok[i + 1][j] || (j < n.size() && ok[i][j + 1]);
			else if (c == '%')
				r = ok[i + 1][j] || (j < n.size() && n[j] != delim && ok[i][j + 1]);
			else
				r = j < n.size() && n[j] == c && ok[i + 1][j + 1];
			ok[i][j] = r;
		}
	}
	return ok[0][0];
}

void check_command(std::string_view text)
{
	ImapCommand cmd = parse_imap_command(text);
	check_error_text(cmd.error);
	if (cmd.tag.empty())
		FUZZ_CHECK(cmd.error != nullptr);
	else {
		FUZZ_CHECK(text.substr(0, cmd.tag.size()) == cmd.tag);
		for (char c : cmd.tag)
			FUZZ_CHECK(tag_char(static_cast<unsigned char>(c)));
	}
	std::size_t total = cmd.tag.size() + cmd.charset.size();
	for (const auto &a : cmd.args) {
		FUZZ_CHECK(a.find('\0') == std::string::npos);
		total += a.size();
	}
	for (const auto &f : cmd.flags)
		total += f.size();
	// Each message of an APPEND takes at least its "{n}" in the text.
	FUZZ_CHECK(cmd.append_messages.size() <= text.size() / 3);
	std::size_t cat_parts = 0;
	for (const auto &m : cmd.append_messages) {
		for (const auto &f : m.flags)
			total += f.size();
		// A CATENATE part takes at least "URL x" or "TEXT {n}" and a separator.
		cat_parts += m.parts.size();
		for (const auto &p : m.parts)
			total += p.text.size();
	}
	FUZZ_CHECK(cat_parts <= text.size() / 6);
	for (const auto &s : cmd.status_items)
		total += s.size();
	total += cmd.set.ranges.size() * sizeof(SeqRange);
	for (const auto &f : cmd.fetch) {
		total += f.part.size() * 4;
		for (const auto &h : f.fields)
			total += h.size();
		// Upper-case throughout (a field name with CR, LF or 8-bit bytes comes back as a
		// literal, which the grammar allows there; its letters are upper-cased too).
		if (cmd.error == nullptr)
			for (char c : f.response_name())
				FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
	}
	total += cmd.sort_criteria.size() * sizeof(SortCriterion);
	// NOTIFY (RFC 5465): each group and each name takes text of its own; names hold no NUL.
	FUZZ_CHECK(cmd.notify.groups.size() <= text.size() / 8 + 1);
	for (const auto &g : cmd.notify.groups) {
		for (const auto &m : g.mailboxes) {
			FUZZ_CHECK(m.find('\0') == std::string::npos);
			total += m.size();
		}
		for (const auto &e : g.unknown_events)
			total += e.size();
		FUZZ_CHECK(g.new_fetch.size() <= text.size() + 8);
	}
	// SORT has one criterion at least; SORT and THREAD always name a charset.
	if (cmd.error == nullptr && (cmd.verb == ImapVerb::sort || cmd.verb == ImapVerb::thread))
		FUZZ_CHECK(!cmd.charset.empty() && (cmd.verb == ImapVerb::thread || !cmd.sort_criteria.empty()));
	int depth = 0;
	total += search_size(cmd.search, 0, depth);
	FUZZ_CHECK(depth <= max_search_depth + 1);
	// Bounded: no input makes the result much bigger than itself (FETCH FULL expands to 5 items).
	FUZZ_CHECK(total <= 8 * text.size() + 64);
	FUZZ_CHECK(cmd.fetch.size() <= text.size() + 8);

	if (cmd.error == nullptr && !cmd.set.ranges.empty())
		check_set(cmd.set);
	FUZZ_CHECK(!cmd.set.saved || cmd.set.ranges.empty()); // "$" stands alone (RFC 5182)
	if (cmd.error == nullptr && cmd.verb == ImapVerb::id) // RFC 2971: pairs, at most 30
		FUZZ_CHECK(cmd.args.size() % 2 == 0 && cmd.args.size() <= 60);
	if (cmd.error == nullptr && cmd.verb == ImapVerb::enable)
		FUZZ_CHECK(!cmd.args.empty());
	bool append_ok = cmd.verb == ImapVerb::append && cmd.error == nullptr;
	// A closed CATENATE list (RFC 4469) ends the text with no literal of a message.
	bool ends_in_message = append_ok && (!cmd.append_messages.back().catenate || cmd.append_messages.back().open);
	FUZZ_CHECK(is_append_message_literal(text) == ends_in_message);
	if (append_ok) {
		FUZZ_CHECK(!cmd.append_messages.empty());
	}
	if (ends_in_message) {
		auto lit = literal_at_end(text);
		// The spec that ends the text is the last message's (MULTIAPPEND: one of several), or
		// its last TEXT part's.
		const auto &last = cmd.append_messages.back();
		if (last.catenate)
			FUZZ_CHECK(lit && lit->size == last.parts.back().size && lit->binary == last.parts.back().binary);
		else
			FUZZ_CHECK(lit && lit->size == last.size && lit->binary == last.binary);
		FUZZ_CHECK(cmd.literal_size == cmd.append_messages.front().size);
	}

	// CATENATE's URLs (imap-url.hpp): a URL that parses names a message; the text a BADURL
	// echoes has no CTL and no ']'.
	for (const auto &m : cmd.append_messages) {
		for (const auto &p : m.parts) {
			if (!p.url)
				continue;
			auto url = parse_imap_url(p.text);
			if (url) {
				FUZZ_CHECK(url->uid != 0);
				FUZZ_CHECK(url->selected == url->mailbox.empty());
				FUZZ_CHECK(!url->length || *url->length != 0);
			}
			for (char c : url_resp_text(p.text))
				FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != ']' && c != 0x7f);
		}
	}

	// Same input, same answer.
	ImapCommand again = parse_imap_command(text);
	FUZZ_CHECK(again.tag == cmd.tag && again.verb == cmd.verb && again.args == cmd.args &&
		   (again.error == nullptr) == (cmd.error == nullptr));
}

void check_literal_at_end(std::string_view line)
{
	auto lit = literal_at_end(line);
	if (!lit)
		return;
	FUZZ_CHECK(!line.empty() && line.back() == '}');
	std::string_view body = line.substr(0, line.size() - 1);
	if (lit->non_sync) {
		FUZZ_CHECK(!body.empty() && body.back() == '+');
		body.remove_suffix(1);
	}
	auto open = body.rfind('{');
	FUZZ_CHECK(open != std::string_view::npos);
	std::string_view digits = body.substr(open + 1);
	FUZZ_CHECK(!digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos);
	unsigned __int128 v = 0;
	for (char c : digits)
		v = v * 10 + static_cast<unsigned>(c - '0');
	FUZZ_CHECK(v == lit->size);
	FUZZ_CHECK(lit->binary == (open > 0 && body[open - 1] == '~'));
}

void check_quote(std::string_view s)
{
	std::string q = imap_quote(s);
	std::string sent(s); // NUL can be sent in no IMAP string: it is dropped
	std::erase(sent, '\0');
	if (!q.empty() && q[0] == '{') {
		std::string head = "{" + std::to_string(sent.size()) + "}\r\n";
		FUZZ_CHECK(q == head + sent);
		return;
	}
	FUZZ_CHECK(q.size() >= 2 && q.front() == '"' && q.back() == '"');
	std::string back;
	for (std::size_t i = 1; i + 1 < q.size(); i++) {
		char c = q[i];
		FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0' && static_cast<unsigned char>(c) < 0x80);
		if (c == '\\') {
			FUZZ_CHECK(i + 2 < q.size() && (q[i + 1] == '"' || q[i + 1] == '\\'));
			c = q[++i];
		} else {
			FUZZ_CHECK(c != '"');
		}
		back += c;
	}
	FUZZ_CHECK(back == sent);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	std::string_view in(reinterpret_cast<const char *>(data), size);
	check_command(in);
	check_literal_at_end(in);
	check_quote(in);

	if (auto set = parse_sequence_set(in)) {
		check_set(*set);
		for (std::uint32_t n : {1u, 2u, 3u, 7u, 100u, 4294967295u})
			for (std::uint32_t star : {1u, 5u, 4294967295u})
				FUZZ_CHECK(set->contains(n, star) == model_contains(*set, n, star));
	}

	auto nul = in.find('\0');
	if (nul != std::string_view::npos && nul < 64 && in.size() - nul < 256)
		FUZZ_CHECK(list_pattern_matches(in.substr(0, nul), in.substr(nul + 1)) ==
			   model_match(in.substr(0, nul), in.substr(nul + 1), '.'));

	if (valid_mailbox_name(in))
		for (char c : in)
			FUZZ_CHECK(c >= 0x20 && c < 0x7f);

	if (auto t = parse_imap_date_time(in)) {
		std::string f = format_imap_date_time(*t);
		FUZZ_CHECK(parse_imap_date_time(f) == t);
	}
	if (size >= 8) {
		std::int64_t t;
		std::memcpy(&t, data, 8);
		t %= 400LL * 366 * 86400 * 25; // around years 0..9999 and a little beyond
		std::string f = format_imap_date_time(t);
		auto back = parse_imap_date_time(f);
		FUZZ_CHECK(back.has_value());
		if (t >= -62167219200LL && t < 253402300800LL) // 0000-01-01 .. 9999-12-31 end
			FUZZ_CHECK(*back == t);
	}
	return 0;
}
