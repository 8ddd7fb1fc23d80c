#include "mail/subject.hpp"

#include "base/ascii.hpp"
#include "mail/encoded-word.hpp"

namespace maild {

namespace {

// subj-blob = "[" *BLOBCHAR "]" *WSP at v[pos], BLOBCHAR being anything but the brackets: its
// length, or 0.
std::size_t blob_length(std::string_view v, std::size_t pos)
{
	if (pos >= v.size() || v[pos] != '[')
		return 0;
	std::size_t close = v.find_first_of("[]", pos + 1);
	if (close == std::string_view::npos || v[close] != ']')
		return 0;
	std::size_t end = close + 1;
	while (end < v.size() && v[end] == ' ')
		end++;
	return end - pos;
}

// subj-leader's first form, *subj-blob subj-refwd, with subj-refwd = ("re" / ("fw" ["d"]))
// *WSP [subj-blob] ":": its length at the start of v, or 0.
std::size_t reply_leader_length(std::string_view v)
{
	std::size_t pos = 0;
	while (std::size_t n = blob_length(v, pos))
		pos += n;
	std::string_view rest = v.substr(pos);
	if (starts_with_nocase(rest, "fwd"))
		pos += 3;
	else if (starts_with_nocase(rest, "fw") || starts_with_nocase(rest, "re"))
		pos += 2;
	else
		return 0;
	while (pos < v.size() && v[pos] == ' ')
		pos++;
	pos += blob_length(v, pos);
	return pos < v.size() && v[pos] == ':' ? pos + 1 : 0;
}

// Step (1): encoded words decoded, every run of white space and line ends one space.
std::string normalized(std::string_view subject)
{
	std::string decoded = decode_encoded_words(subject), out;
	for (char c : decoded) {
		bool space = c == ' ' || c == '\t' || c == '\r' || c == '\n';
		if (!space)
			out += c;
		else if (!out.empty() && out.back() != ' ')
			out += ' ';
	}
	return out;
}

} // namespace

BaseSubject base_subject(std::string_view subject)
{
	BaseSubject result;
	std::string text = normalized(subject);
	std::string_view v = text;
	for (;;) {
		// (2) subj-trailer = "(fwd)" / WSP, removed from the end until none is left.
		for (;;) {
			if (!v.empty() && v.back() == ' ') {
				v.remove_suffix(1);
			} else if (v.size() >= 5 && equal_nocase(v.substr(v.size() - 5), "(fwd)")) {
				v.remove_suffix(5);
				result.reply_or_forward = true;
			} else {
				break;
			}
		}
		// (3) to (5): leaders, then one leading blob if text remains after it, until neither is
		// there.
		for (bool changed = true; changed;) {
			changed = false;
			for (;;) {
				if (!v.empty() && v.front() == ' ') {
					v.remove_prefix(1);
				} else if (std::size_t n = reply_leader_length(v)) {
					v.remove_prefix(n);
					result.reply_or_forward = true;
				} else {
					break;
				}
				changed = true;
			}
			std::size_t blob = blob_length(v, 0);
			if (blob > 0 && blob < v.size()) { // what follows a blob's own spaces is not a space
				v.remove_prefix(blob);
				changed = true;
			}
		}
		// (6) "[fwd:" ... "]" around everything: unwrap and start again from (2).
		if (v.size() >= 6 && starts_with_nocase(v, "[fwd:") && v.back() == ']') {
			v = v.substr(5, v.size() - 6);
			result.reply_or_forward = true;
			continue;
		}
		break;
	}
	result.text = v;
	return result;
}

} // namespace maild
