// THREAD's algorithms: ORDEREDSUBJECT and REFERENCES (RFC 5256 4), and REFS (the THREAD=REFS
// extension of draft-ietf-morg-inthread), on what the caller read
// from each message. Pure: no files, no session. Nothing here recurses, so a mailbox whose
// References chain every message to the one before (a conversation, or a hostile sender) costs
// heap, not stack.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace maild {

struct ThreadMessage {
	std::uint32_t id = 0;		     // what THREAD answers: a sequence number or a UID, not 0
	std::string message_id;		     // from Message-ID, "" when there is none
	std::vector<std::string> references; // References' ids, or else In-Reply-To's first; oldest first
	std::string subject_key;	     // the base subject in i;ascii-casemap form (upper case)
	bool reply_or_forward = false;	     // what base subject extraction said
	std::int64_t sent = 0;		     // Date: in UTC, or the internal date without one
	std::int64_t arrival = 0;	     // INTERNALDATE: REFS orders threads by it
};

// The threads found: nodes referring to each other by index. A node with id 0 is a dummy (a
// message referred to but not in the mailbox, or the common parent of two threads merged by
// subject); only roots are dummies.
struct ThreadForest {
	struct Node {
		std::uint32_t id = 0;
		std::vector<std::uint32_t> children;
	};
	std::vector<Node> nodes;
	std::vector<std::uint32_t> roots;

	// The THREAD response's thread lists: "(1 2)(3 (4)(5 6))", a child alone continuing its
	// parent's list, siblings each in parentheses, a dummy root holding its threads only.
	std::string format() const;
};

// `messages` in mailbox order: ties in sent date go to the earlier one.
ThreadForest thread_orderedsubject(const std::vector<ThreadMessage> &messages);
ThreadForest thread_references(const std::vector<ThreadMessage> &messages);
// REFERENCES without Subject: no thread is merged by base subject (RFC 5256 step 5); children are
// still in sent-date order, but threads go by the latest INTERNALDATE in each, the oldest first,
// so the thread a new message joins becomes the last one. A tie goes to the thread whose latest
// message comes first in the mailbox.
ThreadForest thread_refs(const std::vector<ThreadMessage> &messages);

} // namespace maild
