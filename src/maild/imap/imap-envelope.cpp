#include "imap/imap-envelope.hpp"

#include "base/ascii.hpp"
#include "mail/address.hpp"
#include "mail/header.hpp"

#include <array>

namespace maild {

void append_imap_nstring(std::string &out, const std::optional<std::string> &s)
{
	if (s)
		append_imap_string(out, *s);
	else
		out += "NIL";
}

namespace {

// ((name adl mailbox host) ...), NIL for an absent or empty list. The list is cut at
// max_addresses: an ENVELOPE repeats From up to three times at about 17 bytes per address, so
// a header of nothing but "a@b," would otherwise grow tenfold on the wire.
void append_address_list(std::string &out, std::optional<std::string_view> value)
{
	bool any = false;
	if (value) {
		parse_address_list(*value, [&](const MailAddress &a) {
			out += any ? "(" : "((";
			any = true;
			append_imap_nstring(out, a.name);
			out += ' ';
			append_imap_nstring(out, a.route);
			out += ' ';
			append_imap_nstring(out, a.mailbox);
			out += ' ';
			append_imap_nstring(out, a.host);
			out += ')';
		});
	}
	out += any ? ")" : "NIL";
}

std::optional<std::string> field_text(std::optional<std::string_view> raw)
{
	if (!raw)
		return std::nullopt;
	return unfold(*raw);
}

} // namespace

std::string imap_envelope(std::string_view header)
{
	enum { date, subject, from, sender, reply_to, to, cc, bcc, in_reply_to, message_id, count };
	static constexpr std::array<std::string_view, count> names = {
		"Date", "Subject", "From", "Sender", "Reply-To", "To", "Cc", "Bcc", "In-Reply-To", "Message-ID"};
	std::array<std::optional<std::string_view>, count> v;
	for_each_field(header, [&](const HeaderField &f) {
		for (std::size_t k = 0; k < count; k++)
			if (!v[k] && equal_nocase(f.name, names[k]))
				v[k] = f.value;
		return true;
	});

	std::string out = "(";
	append_imap_nstring(out, field_text(v[date]));
	out += ' ';
	append_imap_nstring(out, field_text(v[subject]));
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
	append_imap_nstring(out, field_text(v[in_reply_to]));
	out += ' ';
	append_imap_nstring(out, field_text(v[message_id]));
	out += ')';
	return out;
}

} // namespace maild
