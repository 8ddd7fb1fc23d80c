// The FETCH grammar (RFC 3501 9: fetch-att, section-spec) and the names FETCH responses use.
#include "imap/imap-grammar.hpp"

#include <algorithm>

namespace maild {

namespace {

using namespace imap_grammar;

// header-list: "(" header-fld-name *(SP header-fld-name) ")", names being astrings.
bool header_list(Cursor &c, std::vector<std::string> &fields)
{
	if (!c.expect('(', "header list expected"))
		return false;
	do {
		std::string name;
		if (!c.astring(name))
			return false;
		fields.push_back(upper_copy(name));
	} while (c.accept(' '));
	return c.close_paren();
}

// section-spec between "[" and "]": [section-part ["." section-text]] or section-msgtext.
bool section(Cursor &c, FetchAtt &att)
{
	if (c.accept(']'))
		return true;
	bool text_follows = true;
	if (is_digit(c.peek())) {
		text_follows = false;
		for (;;) {
			std::uint64_t n = 0;
			if (!c.number(n, max_number, true))
				return false;
			att.part.push_back(static_cast<std::uint32_t>(n));
			if (!c.accept('.'))
				break;
			if (!is_digit(c.peek())) {
				text_follows = true;
				break;
			}
		}
	}
	if (text_follows) {
		std::string_view name = c.take_while(is_name_char);
		if (equal_nocase(name, "HEADER"))
			att.text = SectionText::header;
		else if (equal_nocase(name, "HEADER.FIELDS"))
			att.text = SectionText::header_fields;
		else if (equal_nocase(name, "HEADER.FIELDS.NOT"))
			att.text = SectionText::header_fields_not;
		else if (equal_nocase(name, "TEXT"))
			att.text = SectionText::text;
		else if (equal_nocase(name, "MIME") && !att.part.empty()) // MIME describes a part only
			att.text = SectionText::mime;
		else
			return c.fail("invalid section");
		if (att.text == SectionText::header_fields || att.text == SectionText::header_fields_not) {
			if (!c.sp() || !header_list(c, att.fields))
				return false;
		}
	}
	return c.expect(']', "invalid section");
}

// An optional "<" number "." nz-number ">".
bool partial(Cursor &c, FetchAtt &att)
{
	if (!c.accept('<'))
		return true;
	att.partial = true;
	return c.number(att.origin, max_number, false) && c.expect('.', "invalid partial range") &&
	       c.number(att.count, max_number, true) && c.expect('>', "invalid partial range");
}

// RFC 3516: "BINARY" [".PEEK"] section-binary [partial] / "BINARY.SIZE" section-binary, where
// section-binary = "[" [section-part] "]": part numbers only, no HEADER, TEXT or MIME, since
// only a part's body has a transfer encoding to undo.
bool binary_att(Cursor &c, std::vector<FetchAtt> &out, std::string_view name)
{
	FetchAtt att;
	bool size = equal_nocase(name, "BINARY.SIZE");
	att.kind = size ? FetchAtt::Kind::binary_size : FetchAtt::Kind::binary;
	att.peek = equal_nocase(name, "BINARY.PEEK");
	if (!c.expect('[', "BINARY needs a section"))
		return false;
	if (!c.accept(']')) {
		do {
			std::uint64_t n = 0;
			if (!c.number(n, max_number, true))
				return false;
			att.part.push_back(static_cast<std::uint32_t>(n));
		} while (c.accept('.'));
		if (!c.expect(']', "invalid binary section"))
			return false;
	}
	if (!size && !partial(c, att))
		return false;
	out.push_back(std::move(att));
	return true;
}

struct NamedAtt {
	const char *name;
	FetchAtt::Kind kind;
};

constexpr NamedAtt simple_atts[] = {
	{"UID", FetchAtt::Kind::uid},
	{"FLAGS", FetchAtt::Kind::flags},
	{"INTERNALDATE", FetchAtt::Kind::internaldate},
	{"RFC822.SIZE", FetchAtt::Kind::rfc822_size},
	{"RFC822", FetchAtt::Kind::rfc822},
	{"RFC822.HEADER", FetchAtt::Kind::rfc822_header},
	{"RFC822.TEXT", FetchAtt::Kind::rfc822_text},
	{"ENVELOPE", FetchAtt::Kind::envelope},
	{"BODYSTRUCTURE", FetchAtt::Kind::bodystructure},
	{"MODSEQ", FetchAtt::Kind::modseq},
};

void add_simple(std::vector<FetchAtt> &out, FetchAtt::Kind kind)
{
	FetchAtt att;
	att.kind = kind;
	out.push_back(std::move(att));
}

// One fetch-att, or (alone, outside a list) a macro, appended to out.
bool fetch_att(Cursor &c, std::vector<FetchAtt> &out, bool in_list)
{
	std::string_view name = c.take_while(is_name_char);
	if (name.empty())
		return c.fail(c.at_end() ? "missing argument" : "invalid fetch item");

	bool all = equal_nocase(name, "ALL"), full = equal_nocase(name, "FULL");
	if (all || full || equal_nocase(name, "FAST")) {
		// RFC 3501 6.4.5: the macros stand alone, never in a list.
		if (in_list)
			return c.fail("fetch macro inside a list");
		add_simple(out, FetchAtt::Kind::flags);
		add_simple(out, FetchAtt::Kind::internaldate);
		add_simple(out, FetchAtt::Kind::rfc822_size);
		if (all || full)
			add_simple(out, FetchAtt::Kind::envelope);
		if (full)
			add_simple(out, FetchAtt::Kind::body);
		return true;
	}
	for (const auto &n : simple_atts) {
		if (equal_nocase(name, n.name)) {
			add_simple(out, n.kind);
			return true;
		}
	}

	FetchAtt att;
	if (equal_nocase(name, "BINARY") || equal_nocase(name, "BINARY.PEEK") || equal_nocase(name, "BINARY.SIZE"))
		return binary_att(c, out, name);
	bool peek = equal_nocase(name, "BODY.PEEK");
	if (!peek && !equal_nocase(name, "BODY"))
		return c.fail("invalid fetch item");
	if (!c.accept('[')) {
		if (peek)
			return c.fail("BODY.PEEK needs a section");
		att.kind = FetchAtt::Kind::body;
		out.push_back(std::move(att));
		return true;
	}
	att.kind = FetchAtt::Kind::body_section;
	att.peek = peek;
	if (!section(c, att))
		return false;
	if (!partial(c, att))
		return false;
	out.push_back(std::move(att));
	return true;
}

void append_number(std::string &out, std::uint64_t n)
{
	char buf[20];
	std::size_t len = 0;
	do {
		buf[len++] = static_cast<char>('0' + n % 10);
		n /= 10;
	} while (n != 0);
	while (len > 0)
		out += buf[--len];
}

} // namespace

bool imap_grammar::fetch_spec(Cursor &c, std::vector<FetchAtt> &out)
{
	if (!c.accept('('))
		return fetch_att(c, out, false);
	do {
		if (!fetch_att(c, out, true))
			return false;
	} while (c.accept(' '));
	return c.close_paren();
}

// fetch-modifier = "CHANGEDSINCE" SP mod-sequence-valzer / "VANISHED" (RFC 7162 3.1.4.1, 3.2.6);
// each at most once, VANISHED only in UID FETCH and with CHANGEDSINCE.
bool imap_grammar::fetch_modifiers(Cursor &c, ImapCommand &cmd)
{
	if (!c.accept(' '))
		return true;
	if (!c.expect('(', "FETCH modifiers expected"))
		return false;
	do {
		std::string_view name;
		if (!c.atom(name))
			return false;
		if (equal_nocase(name, "CHANGEDSINCE")) {
			std::uint64_t n = 0;
			if (cmd.changedsince)
				return c.fail("CHANGEDSINCE given twice");
			if (!c.sp() || !c.modseq(n, true))
				return false;
			cmd.changedsince = n;
		} else if (equal_nocase(name, "VANISHED")) {
			if (cmd.vanished)
				return c.fail("VANISHED given twice");
			cmd.vanished = true;
		} else {
			return c.fail("unknown FETCH modifier");
		}
	} while (c.accept(' '));
	if (!c.close_paren())
		return false;
	if (cmd.vanished && !cmd.uid)
		return c.fail("VANISHED needs UID FETCH");
	if (cmd.vanished && !cmd.changedsince)
		return c.fail("VANISHED needs CHANGEDSINCE");
	return true;
}

std::string FetchAtt::response_name() const
{
	switch (kind) {
	case Kind::uid: return "UID";
	case Kind::flags: return "FLAGS";
	case Kind::internaldate: return "INTERNALDATE";
	case Kind::rfc822_size: return "RFC822.SIZE";
	case Kind::rfc822: return "RFC822";
	case Kind::rfc822_header: return "RFC822.HEADER";
	case Kind::rfc822_text: return "RFC822.TEXT";
	case Kind::envelope: return "ENVELOPE";
	case Kind::body: return "BODY";
	case Kind::bodystructure: return "BODYSTRUCTURE";
	case Kind::modseq: return "MODSEQ";
	case Kind::body_section:
	case Kind::binary:
	case Kind::binary_size: break;
	}
	std::string out = kind == Kind::body_section ? "BODY[" : kind == Kind::binary ? "BINARY[" : "BINARY.SIZE[";
	for (std::size_t i = 0; i < part.size(); i++) {
		if (i > 0)
			out += '.';
		append_number(out, part[i]);
	}
	const char *name = nullptr;
	switch (text) {
	case SectionText::none: break;
	case SectionText::header: name = "HEADER"; break;
	case SectionText::header_fields: name = "HEADER.FIELDS"; break;
	case SectionText::header_fields_not: name = "HEADER.FIELDS.NOT"; break;
	case SectionText::text: name = "TEXT"; break;
	case SectionText::mime: name = "MIME"; break;
	}
	if (name != nullptr) {
		if (!part.empty())
			out += '.';
		out += name;
	}
	if (text == SectionText::header_fields || text == SectionText::header_fields_not) {
		out += " (";
		for (std::size_t i = 0; i < fields.size(); i++) {
			if (i > 0)
				out += ' ';
			// The names came as astrings; one that is not an atom goes back out as a string.
			const std::string &f = fields[i];
			bool atom = !f.empty() && std::all_of(f.begin(), f.end(), [](char ch) {
				return is_astring_char(static_cast<unsigned char>(ch));
			});
			out += atom ? f : imap_quote(f);
		}
		out += ')';
	}
	out += ']';
	if (partial) {
		// RFC 3501 7.4.2: the response names only the origin octet.
		out += '<';
		append_number(out, origin);
		out += '>';
	}
	return out;
}

} // namespace maild
