#include "imap/imap-message.hpp"

#include "base/ascii.hpp"
#include "imap/imap-bodystructure.hpp"
#include "imap/imap-envelope.hpp"
#include "mail/header.hpp"

#include <algorithm>

namespace maild {

ImapMessage::ImapMessage(std::string_view raw) : raw_(raw), root_(std::make_unique<Part>(parse_mime(raw)))
{
}

ImapMessage::~ImapMessage() = default;
ImapMessage::ImapMessage(ImapMessage &&) noexcept = default;
ImapMessage &ImapMessage::operator=(ImapMessage &&) noexcept = default;

std::string ImapMessage::envelope() const
{
	return imap_envelope(root_->header);
}

std::string ImapMessage::bodystructure(bool extensible) const
{
	std::string out;
	append_bodystructure(out, *root_, extensible);
	return out;
}

namespace {

const MimePart *child(const MimePart &p, std::uint32_t n)
{
	if (n < 1 || n > p.children.size())
		return nullptr;
	return &p.children[n - 1];
}

// Part n of a message (RFC 3501 6.4.5): of a multipart message, its n-th part; of any other
// message, part 1 is the message's own body (so its MIME header is the message header).
const MimePart *message_part(const MimePart &msg, std::uint32_t n)
{
	if (msg.kind == MimePart::Kind::multipart)
		return child(msg, n);
	return n == 1 ? &msg : nullptr;
}

// The part a section number names; null when there is none.
const MimePart *find_part(const MimePart &root, const std::vector<std::uint32_t> &part)
{
	const MimePart *p = message_part(root, part[0]);
	for (std::size_t i = 1; p != nullptr && i < part.size(); i++) {
		if (p->kind == MimePart::Kind::multipart)
			p = child(*p, part[i]);
		else if (p->kind == MimePart::Kind::message)
			p = message_part(p->children.front(), part[i]);
		else
			p = nullptr;
	}
	return p;
}

// The matching field lines (or, for HEADER.FIELDS.NOT, the others) in CRLF form, then an empty line.
std::string filter_fields(std::string_view header, const std::vector<std::string> &fields, bool want_match)
{
	std::vector<std::string> wanted;
	wanted.reserve(fields.size());
	for (const auto &f : fields)
		wanted.push_back(upper_ascii(f));
	std::sort(wanted.begin(), wanted.end());
	std::string text;
	for_each_field(header, [&](const HeaderField &f) {
		bool match = !f.name.empty() && std::binary_search(wanted.begin(), wanted.end(), upper_ascii(f.name));
		if (match == want_match) {
			bool cr = false;
			append_crlf(f.lines, text, cr);
			// The last field of a header cut off at the end of the file has no line end.
			if (f.lines.back() != '\n')
				text += cr ? "\n" : "\r\n";
		}
		return true;
	});
	text += "\r\n";
	return text;
}

} // namespace

std::optional<SectionData> ImapMessage::section(const std::vector<std::uint32_t> &part, SectionPart what,
						const std::vector<std::string> &fields) const
{
	const MimePart *p = nullptr;
	if (!part.empty()) {
		p = find_part(*root_, part);
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
	const MimePart *msg = root_.get();
	if (p != nullptr) {
		if (p->kind != MimePart::Kind::message)
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
	d.is_range = false;
	d.text = filter_fields(msg->header, fields, what == SectionPart::header_fields);
	return d;
}

std::optional<BinarySection> ImapMessage::binary_section(const std::vector<std::uint32_t> &part) const
{
	BinarySection b;
	if (part.empty()) {
		b.range = raw_;
		return b;
	}
	const MimePart *p = find_part(*root_, part);
	if (p == nullptr)
		return std::nullopt;
	b.range = p->body;
	b.encoding = transfer_encoding(p->encoding);
	return b;
}

std::optional<std::string> ImapMessage::header_value(std::string_view name) const
{
	auto value = find_field(root_->header, name);
	if (!value)
		return std::nullopt;
	return unfold(*value);
}

bool ImapMessage::any_header_value(std::string_view name, const std::function<bool(const std::string &)> &fn) const
{
	bool found = false;
	for_each_field(root_->header, [&](const HeaderField &f) {
		found = equal_nocase(f.name, name) && fn(unfold(f.value));
		return !found;
	});
	return found;
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
