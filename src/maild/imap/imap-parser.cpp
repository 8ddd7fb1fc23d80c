// The IMAP command parser: a cursor over one command (literals inline, imap-grammar.hpp) and
// one function per RFC 3501 grammar rule; FETCH's items are in imap-parser-fetch.cpp and
// SEARCH's keys in imap-parser-search.cpp. Errors are short constant texts (the first one found wins), so a reply
// never echoes client bytes. Recursion happens only for search keys, and is bounded by
// max_search_depth; every loop advances the cursor, so no input can make the parser spin.
#include "imap/imap-grammar.hpp"

#include <algorithm>

namespace maild {

namespace {

using namespace imap_grammar;

// ---- the other commands ---------------------------------------------------------------------

bool store_command(Cursor &c, ImapCommand &cmd)
{
	if (!c.sp() || !c.sequence_set(cmd.set) || !c.sp())
		return false;
	// store-modifiers = "(" store-modifier *(SP store-modifier) ")" SP; the one there is:
	// "UNCHANGEDSINCE" SP mod-sequence-valzer (RFC 7162 3.1.3).
	if (c.accept('(')) {
		do {
			std::string_view name;
			std::uint64_t n = 0;
			if (!c.atom(name))
				return false;
			if (!equal_nocase(name, "UNCHANGEDSINCE"))
				return c.fail("unknown STORE modifier");
			if (cmd.unchangedsince)
				return c.fail("UNCHANGEDSINCE given twice");
			if (!c.sp() || !c.modseq(n, true))
				return false;
			cmd.unchangedsince = n;
		} while (c.accept(' '));
		if (!c.close_paren() || !c.sp())
			return false;
	}
	// store-att-flags: (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
	if (c.accept('+'))
		cmd.store_mode = ImapCommand::StoreMode::add;
	else if (c.accept('-'))
		cmd.store_mode = ImapCommand::StoreMode::remove;
	std::string_view item = c.take_while(is_name_char);
	if (equal_nocase(item, "FLAGS.SILENT"))
		cmd.silent = true;
	else if (!equal_nocase(item, "FLAGS"))
		return c.fail(item.empty() && c.at_end() ? "missing argument" : "invalid store item");
	if (!c.sp())
		return false;
	if (c.peek() == '(')
		return c.flag_list(cmd.flags);
	do {
		cmd.flags.emplace_back();
		if (!c.flag(cmd.flags.back()))
			return false;
	} while (c.accept(' '));
	return true;
}

// "CATENATE" SP "(" cat-part *(SP cat-part) ")", cat-part = "TEXT" SP (literal / literal8) /
// "URL" SP astring (RFC 4469 5; literal8 with BINARY). A TEXT literal's bytes are cut out of the
// text; when the text ends right after one, the message is left open for the session.
bool catenate(Cursor &c, ImapCommand::AppendMessage &m)
{
	std::string_view word;
	if (!c.atom(word))
		return false;
	if (!equal_nocase(word, "CATENATE"))
		return c.fail("invalid APPEND data");
	m.catenate = true;
	if (!c.sp() || !c.expect('(', "CATENATE list expected"))
		return false;
	do {
		ImapCommand::AppendMessage::CatPart &p = m.parts.emplace_back();
		if (!c.atom(word))
			return false;
		if (equal_nocase(word, "URL")) {
			p.url = true;
			if (!c.sp() || !c.astring(p.text))
				return false;
		} else if (equal_nocase(word, "TEXT")) {
			if (!c.sp())
				return false;
			p.binary = c.accept('~');
			if (!c.literal_spec(p.size))
				return false;
			if (c.at_end()) {
				m.open = true;
				return true;
			}
		} else {
			return c.fail("invalid CATENATE part");
		}
	} while (c.accept(' '));
	return c.close_paren();
}

// One message of an APPEND: [flag-list SP] [date-time SP] (literal / literal8 / CATENATE list),
// the literal's bytes not included. A literal8 (RFC 3516 4.3) may hold NUL: the message is stored as sent.
bool append_message(Cursor &c, ImapCommand &cmd)
{
	ImapCommand::AppendMessage &m = cmd.append_messages.emplace_back();
	if (c.peek() == '(') {
		if (!c.flag_list(m.flags) || !c.sp())
			return false;
	}
	if (c.peek() == '"') {
		std::string text;
		if (!c.quoted(text))
			return false;
		m.internal_date = parse_imap_date_time(text);
		if (!m.internal_date)
			return c.fail("invalid date-time");
		if (!c.sp())
			return false;
	}
	if (is_alpha(c.peek()))
		return catenate(c, m);
	m.binary = c.accept('~');
	return c.literal_spec(m.size);
}

// "APPEND" SP mailbox 1*(SP message): MULTIAPPEND (RFC 3502) sends more than one message, each
// literal's bytes cut out of the text, so a literal spec is followed by SP and the next message.
bool append_command(Cursor &c, ImapCommand &cmd)
{
	cmd.args.emplace_back();
	if (!c.sp() || !c.mailbox(cmd.args.back()) || !c.sp() || !append_message(c, cmd))
		return false;
	while (!c.at_end() && !cmd.append_messages.back().open) {
		if (!c.sp() || !append_message(c, cmd))
			return false;
	}
	const ImapCommand::AppendMessage &first = cmd.append_messages.front();
	cmd.flags = first.flags;
	cmd.internal_date = first.internal_date;
	cmd.literal_size = first.size;
	cmd.literal_binary = first.binary;
	return true;
}

// SASL-IR's initial response: base64 (whole groups of four, '=' padding only at the end) or "=".
bool valid_initial_response(std::string_view s)
{
	if (s == "=")
		return true;
	if (s.empty() || s.size() % 4 != 0)
		return false;
	std::size_t pad = 0;
	while (pad < 2 && s[s.size() - 1 - pad] == '=')
		pad++;
	for (std::size_t i = 0; i < s.size() - pad; i++) {
		unsigned char ch = static_cast<unsigned char>(s[i]);
		if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '/')
			return false;
	}
	return true;
}

bool authenticate_command(Cursor &c, ImapCommand &cmd)
{
	std::string_view mechanism;
	if (!c.sp() || !c.atom(mechanism))
		return false;
	cmd.args.push_back(upper_copy(mechanism));
	if (!c.accept(' '))
		return true;
	std::string_view initial = c.take_while([](unsigned char ch) { return ch > ' ' && ch < 0x7f; });
	if (!valid_initial_response(initial))
		return c.fail(initial.empty() && c.at_end() ? "missing argument" : "invalid initial response");
	cmd.args.emplace_back(initial);
	return true;
}

bool list_pattern(Cursor &c, std::string &out)
{
	// list-mailbox: 1*list-char / string
	if (c.peek() == '"' || c.peek() == '{')
		return c.string(out);
	std::string_view pattern = c.take_while(is_list_char);
	if (pattern.empty())
		return c.fail(c.at_end() ? "missing argument" : "invalid list pattern");
	out.assign(pattern);
	return true;
}

bool status_att_list(Cursor &c, std::vector<std::string> &items)
{
	if (!c.expect('(', "status list expected"))
		return false;
	do {
		std::string_view item;
		if (!c.atom(item))
			return false;
		std::string name = upper_copy(item);
		if (name != "MESSAGES" && name != "RECENT" && name != "UIDNEXT" && name != "UIDVALIDITY" &&
		    name != "UNSEEN" && name != "HIGHESTMODSEQ")
			return c.fail("invalid status item");
		items.push_back(std::move(name));
	} while (c.accept(' '));
	return c.close_paren();
}

// "(" [option *(SP option)] ")" of LIST-EXTENDED; STATUS takes its item list.
bool list_options(Cursor &c, ImapCommand &cmd, bool returns)
{
	unsigned &set = returns ? cmd.list_return : cmd.list_select;
	if (!c.expect('(', "list options expected"))
		return false;
	if (c.accept(')'))
		return true;
	do {
		std::string_view name;
		if (!c.atom(name))
			return false;
		if (equal_nocase(name, "SUBSCRIBED"))
			set |= ImapCommand::list_subscribed;
		else if (equal_nocase(name, "SPECIAL-USE"))
			set |= ImapCommand::list_special_use;
		else if (!returns && equal_nocase(name, "REMOTE"))
			set |= ImapCommand::list_remote;
		else if (!returns && equal_nocase(name, "RECURSIVEMATCH"))
			set |= ImapCommand::list_recursivematch;
		else if (returns && equal_nocase(name, "CHILDREN"))
			set |= ImapCommand::list_children;
		else if (returns && equal_nocase(name, "STATUS")) {
			set |= ImapCommand::list_status;
			if (!c.sp() || !status_att_list(c, cmd.status_items))
				return false;
		} else
			return c.fail(returns ? "unknown LIST return option" : "unknown LIST selection option");
	} while (c.accept(' '));
	return c.close_paren();
}

// LIST [SP "(" selection options ")"] SP mailbox SP (pattern / "(" pattern *(SP pattern) ")")
// [SP "RETURN" SP "(" return options ")"] (RFC 5258 6); LSUB takes just mailbox SP pattern.
bool list_command(Cursor &c, ImapCommand &cmd)
{
	cmd.args.resize(2);
	bool list = cmd.verb == ImapVerb::list;
	if (!c.sp())
		return false;
	if (list && c.peek() == '(') {
		if (!list_options(c, cmd, false) || !c.sp())
			return false;
		// RECURSIVEMATCH alone, or with REMOTE alone, selects nothing to recurse into (6.1).
		if ((cmd.list_select & ImapCommand::list_recursivematch) &&
		    !(cmd.list_select & (ImapCommand::list_subscribed | ImapCommand::list_special_use)))
			return c.fail("RECURSIVEMATCH needs another selection option");
	}
	if (!c.astring(cmd.args[0]) || !c.sp())
		return false;
	if (list && c.accept('(')) {
		do {
			cmd.list_patterns.emplace_back();
			if (!list_pattern(c, cmd.list_patterns.back()))
				return false;
		} while (c.accept(' '));
		if (!c.close_paren())
			return false;
	} else {
		cmd.list_patterns.emplace_back();
		if (!list_pattern(c, cmd.list_patterns.back()))
			return false;
	}
	cmd.args[1] = cmd.list_patterns.front();
	if (list && c.accept(' ')) {
		std::string_view word;
		if (!c.atom(word) || !equal_nocase(word, "RETURN"))
			return c.fail("RETURN expected");
		if (!c.sp() || !list_options(c, cmd, true))
			return false;
	}
	return true;
}

bool status_command(Cursor &c, ImapCommand &cmd)
{
	cmd.args.emplace_back();
	return c.sp() && c.mailbox(cmd.args.back()) && c.sp() && status_att_list(c, cmd.status_items);
}

// SELECT/EXAMINE's [SP "(" select-param *(SP select-param) ")"] after the mailbox, the
// parameters being RFC 7162's "CONDSTORE" and "QRESYNC" SP "(" uidvalidity SP
// mod-sequence-value [SP known-uids] [SP seq-match-data] ")", seq-match-data being
// "(" known-sequence-set SP known-uid-set ")". Each at most once.
bool select_params(Cursor &c, ImapCommand &cmd)
{
	if (!c.accept(' '))
		return true;
	if (!c.expect('(', "SELECT parameters expected"))
		return false;
	// known-uids, known-sequence-set and known-uid-set are sequence sets without "*" (or "$").
	auto set = [&c](std::optional<SequenceSet> &out) {
		if (c.peek() == '$')
			return c.fail("invalid sequence set");
		out.emplace();
		if (!c.sequence_set(*out))
			return false;
		for (const auto &r : out->ranges) {
			if (r.first == 0 || r.last == 0)
				return c.fail("\"*\" is not allowed in QRESYNC's sets");
		}
		return true;
	};
	do {
		std::string_view name;
		if (!c.atom(name))
			return false;
		if (equal_nocase(name, "CONDSTORE")) {
			if (cmd.select_condstore)
				return c.fail("CONDSTORE given twice");
			cmd.select_condstore = true;
			continue;
		}
		if (!equal_nocase(name, "QRESYNC"))
			return c.fail("unknown SELECT parameter");
		if (cmd.qresync)
			return c.fail("QRESYNC given twice");
		ImapCommand::Qresync &q = cmd.qresync.emplace();
		std::uint64_t uidvalidity = 0;
		if (!c.sp() || !c.expect('(', "QRESYNC parameters expected") || !c.number(uidvalidity, max_number, true) ||
		    !c.sp() || !c.modseq(q.modseq, false))
			return false;
		q.uidvalidity = static_cast<std::uint32_t>(uidvalidity);
		bool more = c.accept(' ');
		if (more && c.peek() != '(') {
			if (!set(q.known_uids))
				return false;
			more = c.accept(' ');
		}
		if (more) {
			if (!c.expect('(', "seq-match-data expected") || !set(q.known_seqs) || !c.sp() ||
			    !set(q.known_seq_uids) || !c.close_paren())
				return false;
		}
		if (!c.close_paren())
			return false;
	} while (c.accept(' '));
	return c.close_paren();
}

bool mailbox_args(Cursor &c, ImapCommand &cmd, int count)
{
	for (int i = 0; i < count; i++) {
		cmd.args.emplace_back();
		if (!c.sp() || !c.mailbox(cmd.args.back()))
			return false;
	}
	return true;
}

// RFC 2971: "ID" SP ( "(" string SP nstring *(SP string SP nstring) ")" / nil ); at most 30
// pairs (its section 3.3).
bool id_command(Cursor &c, ImapCommand &cmd)
{
	if (!c.sp())
		return false;
	std::string_view nil;
	if (c.peek() != '(')
		return (c.atom(nil) && equal_nocase(nil, "NIL")) || c.fail("ID takes NIL or a list");
	c.accept('(');
	do {
		if (cmd.args.size() >= 60)
			return c.fail("ID takes at most 30 fields");
		cmd.args.emplace_back();
		cmd.args.emplace_back();
		if (!c.string(cmd.args[cmd.args.size() - 2]) || !c.sp())
			return false;
		if (c.peek() == '"' || c.peek() == '{') {
			if (!c.string(cmd.args.back()))
				return false;
		} else if (!c.atom(nil) || !equal_nocase(nil, "NIL")) {
			return c.fail("ID values are strings or NIL");
		}
	} while (c.accept(' '));
	return c.close_paren();
}

bool enable_command(Cursor &c, ImapCommand &cmd)
{
	do {
		std::string_view name;
		if (!c.sp() || !c.atom(name))
			return false;
		cmd.args.push_back(upper_copy(name));
	} while (c.peek() == ' ');
	return true;
}

bool arguments(Cursor &c, ImapCommand &cmd)
{
	switch (cmd.verb) {
	case ImapVerb::unknown:
	case ImapVerb::capability:
	case ImapVerb::noop:
	case ImapVerb::logout:
	case ImapVerb::starttls:
	case ImapVerb::namespace_:
	case ImapVerb::check:
	case ImapVerb::close:
	case ImapVerb::unselect:
	case ImapVerb::idle:
		return true;
	case ImapVerb::expunge: // UID EXPUNGE (RFC 4315) takes the UIDs to expunge
		return !cmd.uid || (c.sp() && c.sequence_set(cmd.set));
	case ImapVerb::login:
		cmd.args.resize(2);
		return c.sp() && c.astring(cmd.args[0]) && c.sp() && c.astring(cmd.args[1]);
	case ImapVerb::authenticate:
		return authenticate_command(c, cmd);
	case ImapVerb::list:
	case ImapVerb::lsub:
		return list_command(c, cmd);
	case ImapVerb::status:
		return status_command(c, cmd);
	case ImapVerb::select:
	case ImapVerb::examine:
		return mailbox_args(c, cmd, 1) && select_params(c, cmd);
	case ImapVerb::create:
	case ImapVerb::delete_:
	case ImapVerb::subscribe:
	case ImapVerb::unsubscribe:
		return mailbox_args(c, cmd, 1);
	case ImapVerb::rename:
		return mailbox_args(c, cmd, 2);
	case ImapVerb::append:
		return append_command(c, cmd);
	case ImapVerb::search:
		return search_command(c, cmd);
	case ImapVerb::sort:
		return sort_command(c, cmd);
	case ImapVerb::thread:
		return thread_command(c, cmd);
	case ImapVerb::fetch:
		return c.sp() && c.sequence_set(cmd.set) && c.sp() && fetch_spec(c, cmd.fetch) && fetch_modifiers(c, cmd);
	case ImapVerb::store:
		return store_command(c, cmd);
	case ImapVerb::copy:
	case ImapVerb::move:
		return c.sp() && c.sequence_set(cmd.set) && mailbox_args(c, cmd, 1);
	case ImapVerb::id:
		return id_command(c, cmd);
	case ImapVerb::enable:
		return enable_command(c, cmd);
	case ImapVerb::cancelupdate: // 1*(SP quoted)
		do {
			if (!c.sp() || !c.quoted(cmd.args.emplace_back()))
				return false;
		} while (c.peek() == ' ');
		return true;
	case ImapVerb::compress: {
		std::string_view mechanism;
		if (!c.sp() || !c.atom(mechanism))
			return false;
		cmd.args.push_back(upper_copy(mechanism));
		return true;
	}
	case ImapVerb::notify:
		return notify_command(c, cmd);
	}
	return true;
}

struct VerbName {
	const char *name;
	ImapVerb verb;
};

constexpr VerbName verbs[] = {
	{"CAPABILITY", ImapVerb::capability}, {"NOOP", ImapVerb::noop}, {"LOGOUT", ImapVerb::logout},
	{"STARTTLS", ImapVerb::starttls}, {"LOGIN", ImapVerb::login},
	{"AUTHENTICATE", ImapVerb::authenticate}, {"NAMESPACE", ImapVerb::namespace_},
	{"LIST", ImapVerb::list}, {"LSUB", ImapVerb::lsub}, {"STATUS", ImapVerb::status},
	{"SELECT", ImapVerb::select}, {"EXAMINE", ImapVerb::examine}, {"CREATE", ImapVerb::create},
	{"DELETE", ImapVerb::delete_}, {"RENAME", ImapVerb::rename},
	{"SUBSCRIBE", ImapVerb::subscribe}, {"UNSUBSCRIBE", ImapVerb::unsubscribe},
	{"APPEND", ImapVerb::append}, {"CHECK", ImapVerb::check}, {"CLOSE", ImapVerb::close},
	{"UNSELECT", ImapVerb::unselect}, {"EXPUNGE", ImapVerb::expunge},
	{"SEARCH", ImapVerb::search}, {"FETCH", ImapVerb::fetch}, {"STORE", ImapVerb::store},
	{"COPY", ImapVerb::copy}, {"IDLE", ImapVerb::idle}, {"MOVE", ImapVerb::move},
	{"ID", ImapVerb::id}, {"ENABLE", ImapVerb::enable},
	{"SORT", ImapVerb::sort}, {"THREAD", ImapVerb::thread},
	{"CANCELUPDATE", ImapVerb::cancelupdate}, {"COMPRESS", ImapVerb::compress},
	{"NOTIFY", ImapVerb::notify},
};

ImapVerb lookup_verb(std::string_view name)
{
	for (const auto &v : verbs) {
		if (equal_nocase(name, v.name))
			return v.verb;
	}
	return ImapVerb::unknown;
}

} // namespace

// ---- public functions -----------------------------------------------------------------------

bool SequenceSet::contains(std::uint32_t n, std::uint32_t star) const
{
	for (const auto &r : ranges) {
		std::uint32_t a = r.first == 0 ? star : r.first;
		std::uint32_t b = r.last == 0 ? star : r.last;
		if (a > b)
			std::swap(a, b);
		if (n >= a && n <= b)
			return true;
	}
	return false;
}

std::string sequence_set_text(const std::vector<std::uint32_t> &numbers)
{
	std::string out;
	for (std::size_t i = 0; i < numbers.size();) {
		std::size_t j = i;
		while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1)
			j++;
		if (!out.empty())
			out += ',';
		out += std::to_string(numbers[i]);
		if (j > i)
			out += ":" + std::to_string(numbers[j]);
		i = j + 1;
	}
	return out;
}

std::optional<SequenceSet> parse_sequence_set(std::string_view s)
{
	SequenceSet set;
	Cursor c(s);
	auto seq_number = [&c](std::uint32_t &out) {
		if (c.accept('*')) {
			out = 0;
			return true;
		}
		std::uint64_t n = 0;
		if (!c.number(n, max_number, true))
			return false;
		out = static_cast<std::uint32_t>(n);
		return true;
	};
	do {
		SeqRange r;
		if (!seq_number(r.first))
			return std::nullopt;
		r.last = r.first;
		if (c.accept(':') && !seq_number(r.last))
			return std::nullopt;
		set.ranges.push_back(r);
	} while (c.accept(','));
	if (!c.at_end())
		return std::nullopt;
	return set;
}

ImapCommand parse_imap_command(std::string_view text)
{
	ImapCommand cmd;
	Cursor c(text);
	std::string_view tag = c.take_while(is_tag_char);
	if (tag.empty() || (!c.at_end() && c.peek() != ' ')) {
		cmd.error = "missing or invalid tag";
		return cmd;
	}
	cmd.tag.assign(tag);
	std::string_view verb;
	if (!c.sp() || !c.atom(verb)) {
		cmd.error = "missing command";
		return cmd;
	}
	if (equal_nocase(verb, "UID")) {
		cmd.uid = true;
		if (!c.sp() || !c.atom(verb)) {
			cmd.error = c.error();
			return cmd;
		}
		ImapVerb v = lookup_verb(verb);
		if (v != ImapVerb::fetch && v != ImapVerb::store && v != ImapVerb::copy && v != ImapVerb::move &&
		    v != ImapVerb::search && v != ImapVerb::expunge && v != ImapVerb::sort && v != ImapVerb::thread) {
			cmd.error = "UID takes FETCH, STORE, COPY, MOVE, SEARCH, EXPUNGE, SORT or THREAD";
			return cmd;
		}
		cmd.verb = v;
	} else {
		cmd.verb = lookup_verb(verb);
		if (cmd.verb == ImapVerb::unknown)
			return cmd;
	}
	if (arguments(c, cmd))
		c.end();
	cmd.error = c.error();
	return cmd;
}

std::optional<LiteralSpec> literal_at_end(std::string_view line)
{
	if (line.empty() || line.back() != '}')
		return std::nullopt;
	std::size_t open = line.rfind('{');
	if (open == std::string_view::npos)
		return std::nullopt;
	std::string_view inner = line.substr(open + 1, line.size() - open - 2);
	LiteralSpec spec;
	spec.binary = open > 0 && line[open - 1] == '~';
	if (!inner.empty() && inner.back() == '+') {
		spec.non_sync = true;
		inner.remove_suffix(1);
	}
	if (inner.empty())
		return std::nullopt;
	for (char ch : inner) {
		if (!is_digit(ch))
			return std::nullopt;
		auto digit = static_cast<std::uint64_t>(ch - '0');
		if (spec.size > (UINT64_MAX - digit) / 10)
			return std::nullopt;
		spec.size = spec.size * 10 + digit;
	}
	return spec;
}

bool is_append_message_literal(std::string_view text)
{
	// The full parse decides: the grammar puts a literal after the mailbox only as the message,
	// and a text ending in the mailbox's own literal spec lacks the CRLF and bytes after it.
	ImapCommand cmd = parse_imap_command(text);
	if (cmd.verb != ImapVerb::append || cmd.error != nullptr)
		return false;
	// A CATENATE list that ended (URLs only, or a closed list) leaves no literal at the end.
	const ImapCommand::AppendMessage &last = cmd.append_messages.back();
	return !last.catenate || last.open;
}

} // namespace maild
