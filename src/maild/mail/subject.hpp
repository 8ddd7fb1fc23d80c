// The base subject of RFC 5256 2.1: what SORT SUBJECT and both THREAD algorithms compare, so
// "Re: [list] Fwd: lunch (fwd)" and "lunch" sort and thread together.
#pragma once

#include <string>
#include <string_view>

namespace maild {

struct BaseSubject {
	std::string text; // UTF-8, single spaces, "" for a subject of only prefixes and white space
	// A "re:", "fw:" or "fwd:" leader, a "(fwd)" trailer or a "[fwd: ...]" wrapper was removed:
	// what THREAD ORDEREDSUBJECT and REFERENCES call a reply or forward.
	bool reply_or_forward = false;
};

// `subject` is the Subject field's value as stored: folded, maybe with RFC 2047 encoded words.
// The steps of RFC 5256 2.1 in order; letters keep their case (comparisons use
// i;ascii-casemap, RFC 5256 3).
BaseSubject base_subject(std::string_view subject);

} // namespace maild
