#include "imap/imap-bodystructure.hpp"

#include "imap/imap-envelope.hpp"
#include "mail/crlf.hpp"
#include "mail/header.hpp"
#include "mail/mime.hpp"

namespace maild {

namespace {

std::optional<std::string> mime_text(std::optional<std::string_view> raw)
{
	if (!raw)
		return std::nullopt;
	std::string s = unfold_trimmed(*raw);
	if (s.empty())
		return std::nullopt;
	return s;
}

void append_params(std::string &out, const MimeParams &params)
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
		append_imap_string(out, k);
		out += ' ';
		append_imap_string(out, v);
	}
	out += ')';
}

// body-fld-dsp body-fld-lang body-fld-loc, the extension data both part kinds end with.
void append_dsp_lang_loc(std::string &out, const MimePart &p)
{
	out += ' ';
	Disposition dsp;
	if (p.disposition)
		dsp = parse_disposition(*p.disposition);
	if (dsp.type.empty()) {
		out += "NIL";
	} else {
		out += '(';
		append_imap_string(out, dsp.type);
		out += ' ';
		append_params(out, dsp.params);
		out += ')';
	}

	out += ' ';
	std::vector<std::string> tags;
	if (p.language)
		tags = parse_language_list(*p.language);
	if (tags.empty()) {
		out += "NIL";
	} else {
		out += '(';
		for (std::size_t i = 0; i < tags.size(); i++) {
			if (i > 0)
				out += ' ';
			append_imap_string(out, tags[i]);
		}
		out += ')';
	}

	out += ' ';
	append_imap_nstring(out, mime_text(p.location));
}

void append_multipart(std::string &out, const MimePart &p, bool extensible)
{
	for (const MimePart &child : p.children)
		append_bodystructure(out, child, extensible);
	out += ' ';
	append_imap_string(out, p.subtype);
	if (extensible) {
		out += ' ';
		append_params(out, p.params);
		append_dsp_lang_loc(out, p);
	}
}

// type subtype params id description encoding size, then envelope, body and lines of a
// message/rfc822 or the lines of text/*, then the extension data.
void append_single(std::string &out, const MimePart &p, bool extensible)
{
	append_imap_string(out, p.type);
	out += ' ';
	append_imap_string(out, p.subtype);
	out += ' ';
	append_params(out, p.params);
	out += ' ';
	append_imap_nstring(out, mime_text(p.id));
	out += ' ';
	append_imap_nstring(out, mime_text(p.description));
	out += ' ';
	std::string enc = p.encoding ? first_token(*p.encoding) : std::string();
	append_imap_string(out, enc.empty() ? "7BIT" : enc);
	out += ' ';
	out += std::to_string(crlf_size(p.body));
	if (p.kind == MimePart::Kind::message) {
		const MimePart &inner = p.children.front();
		out += ' ';
		out += imap_envelope(inner.header);
		out += ' ';
		append_bodystructure(out, inner, extensible);
		out += ' ';
		out += std::to_string(count_lines(p.body));
	} else if (p.type == "TEXT") {
		out += ' ';
		out += std::to_string(count_lines(p.body));
	}
	if (extensible) {
		out += ' ';
		append_imap_nstring(out, mime_text(p.md5));
		append_dsp_lang_loc(out, p);
	}
}

} // namespace

void append_bodystructure(std::string &out, const MimePart &p, bool extensible)
{
	out += '(';
	if (p.kind == MimePart::Kind::multipart)
		append_multipart(out, p, extensible);
	else
		append_single(out, p, extensible);
	out += ')';
}

} // namespace maild
