#include "mail/mime.hpp"

#include "base/ascii.hpp"
#include "mail/header.hpp"
#include "mail/lexer.hpp"

#include <algorithm>
#include <tuple>

namespace maild {

MimeParams parse_params(Cursor &c)
{
	MimeParams params;
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
		params.emplace_back(upper_ascii(attr), std::move(value));
	}
	return params;
}

std::string first_token(std::string_view value)
{
	std::string v = unfold(value);
	Cursor c{v};
	skip_cfws(c);
	return upper_ascii(read_token(c));
}

std::optional<ContentType> parse_content_type(std::string_view value)
{
	std::string v = unfold(value);
	Cursor c{v};
	skip_cfws(c);
	std::string_view type = read_token(c);
	skip_cfws(c);
	if (type.empty() || c.peek() != '/')
		return std::nullopt;
	c.i++;
	skip_cfws(c);
	std::string_view subtype = read_token(c);
	if (subtype.empty())
		return std::nullopt;
	ContentType ct;
	ct.type = upper_ascii(type);
	ct.subtype = upper_ascii(subtype);
	ct.params = parse_params(c);
	return ct;
}

Disposition parse_disposition(std::string_view value)
{
	std::string v = unfold(value);
	Cursor c{v};
	skip_cfws(c);
	Disposition d;
	d.type = upper_ascii(read_token(c));
	d.params = parse_params(c);
	return d;
}

std::vector<std::string> parse_language_list(std::string_view value)
{
	std::vector<std::string> tags;
	std::string v = unfold(value);
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
	return tags;
}

std::vector<std::string_view> split_multipart(std::string_view body, std::string_view boundary,
					      std::size_t limit)
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

const std::string *MimePart::param(std::string_view name) const
{
	for (const auto &[k, v] : params)
		if (k == name)
			return &v;
	return nullptr;
}

namespace {

// Builds the tree. Each level scans only its own part once, and depth is bounded, so the work is
// at most max_mime_depth passes over the message whatever the input.
class MimeParser {
public:
	void parse(MimePart &p, std::string_view entity, unsigned depth, bool in_digest)
	{
		std::tie(p.header, p.body) = split_entity(entity);
		std::optional<std::string_view> content_type = read_content_fields(p);
		set_type(p, content_type, in_digest);
		if (p.type == "MULTIPART")
			parse_multipart(p, depth);
		else if (p.type == "MESSAGE" && p.subtype == "RFC822")
			parse_message(p, depth);
	}

private:
	// The first of each Content-* field into p; returns Content-Type's value.
	static std::optional<std::string_view> read_content_fields(MimePart &p)
	{
		using Slot = std::optional<std::string_view> MimePart::*;
		static constexpr std::pair<std::string_view, Slot> slots[] = {
			{"Transfer-Encoding", &MimePart::encoding}, {"ID", &MimePart::id},
			{"Description", &MimePart::description},    {"MD5", &MimePart::md5},
			{"Disposition", &MimePart::disposition},    {"Language", &MimePart::language},
			{"Location", &MimePart::location},
		};
		std::optional<std::string_view> content_type;
		for_each_field(p.header, [&](const HeaderField &f) {
			if (f.name.size() < 10 || !equal_nocase(f.name.substr(0, 8), "Content-"))
				return true;
			std::string_view n = f.name.substr(8);
			std::optional<std::string_view> *slot = nullptr;
			if (equal_nocase(n, "Type"))
				slot = &content_type;
			for (const auto &[name, member] : slots)
				if (slot == nullptr && equal_nocase(n, name))
					slot = &(p.*member);
			if (slot != nullptr && !*slot)
				*slot = f.value;
			return true;
		});
		return content_type;
	}

	static void set_type(MimePart &p, std::optional<std::string_view> content_type, bool in_digest)
	{
		std::optional<ContentType> ct;
		if (content_type)
			ct = parse_content_type(*content_type);
		if (ct) {
			p.type = std::move(ct->type);
			p.subtype = std::move(ct->subtype);
			p.params = std::move(ct->params);
		} else if (!content_type && in_digest) {
			// RFC 2046 5.1.5: parts of a digest default to message/rfc822.
			p.type = "MESSAGE";
			p.subtype = "RFC822";
		} else {
			p.type = "TEXT";
			p.subtype = "PLAIN";
			p.params = {{"CHARSET", "US-ASCII"}};
		}
		// RFC 2046 4.1.2: text without a charset is US-ASCII; said explicitly, as for no type.
		if (p.type == "TEXT" && p.params.empty())
			p.params = {{"CHARSET", "US-ASCII"}};
	}

	void parse_multipart(MimePart &p, unsigned depth)
	{
		const std::string *boundary = p.param("BOUNDARY");
		std::vector<std::string_view> ranges;
		if (boundary != nullptr && !boundary->empty() && depth < max_mime_depth && parts_left_ > 0)
			ranges = split_multipart(p.body, *boundary, parts_left_);
		// BODYSTRUCTURE cannot express a multipart without parts.
		if (ranges.empty())
			return make_opaque(p);
		parts_left_ -= ranges.size();
		p.kind = MimePart::Kind::multipart;
		p.children.resize(ranges.size());
		bool digest = p.subtype == "DIGEST";
		for (std::size_t i = 0; i < ranges.size(); i++)
			parse(p.children[i], ranges[i], depth + 1, digest);
	}

	void parse_message(MimePart &p, unsigned depth)
	{
		// A base64 or quoted-printable message/rfc822 (forbidden by RFC 2046 5.2.1, yet sent)
		// has no readable header: it can only be an attachment.
		std::string enc = p.encoding ? first_token(*p.encoding) : std::string();
		if (depth >= max_mime_depth || parts_left_ == 0 || enc == "BASE64" || enc == "QUOTED-PRINTABLE")
			return make_opaque(p);
		parts_left_--;
		p.kind = MimePart::Kind::message;
		p.children.resize(1);
		parse(p.children[0], p.body, depth + 1, false);
	}

	// A composite part that cannot be taken apart is sent as bytes. The media-message form has to
	// have an envelope and a multipart has to have parts, so the type changes too.
	static void make_opaque(MimePart &p)
	{
		p.kind = MimePart::Kind::leaf;
		p.type = "APPLICATION";
		p.subtype = "OCTET-STREAM";
	}

	std::size_t parts_left_ = max_mime_parts;
};

} // namespace

MimePart parse_mime(std::string_view entity)
{
	MimePart root;
	MimeParser().parse(root, entity, 0, false);
	return root;
}

} // namespace maild
