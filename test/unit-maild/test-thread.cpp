// THREAD ORDEREDSUBJECT and REFERENCES (RFC 5256 4) and REFS (draft-ietf-morg-inthread) on
// made-up messages: each rule of the algorithm that changes an answer, and the response's nesting.
#include "imap/imap-thread.hpp"
#include "mail/message-id.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace maild;

namespace {
ThreadMessage msg(std::uint32_t id, std::string message_id, std::vector<std::string> refs, std::string subject,
		  std::int64_t sent, bool reply = false, std::int64_t arrival = 0)
{
	ThreadMessage m;
	m.arrival = arrival;
	m.id = id;
	m.message_id = std::move(message_id);
	m.references = std::move(refs);
	m.subject_key = std::move(subject);
	m.sent = sent;
	m.reply_or_forward = reply;
	return m;
}
} // namespace

TEST_CASE("Message identifiers: the text in angle brackets, phrases and broken ones left out", "[mail][thread]")
{
	CHECK(message_ids("<a@b> <c@d>") == std::vector<std::string>{"a@b", "c@d"});
	CHECK(message_ids("your message of Monday <a@b> (comment)") == std::vector<std::string>{"a@b"});
	CHECK(message_ids("<long-id-\r\n folded@host>") == std::vector<std::string>{"long-id-folded@host"});
	CHECK(message_ids("<no-at> <@x> <x@> <> <a <b@c>") == std::vector<std::string>{"b@c"});
	CHECK(message_ids("<unclosed@x").empty());
	std::string many;
	for (int i = 0; i < 1500; i++)
		many += "<" + std::to_string(i) + "@x> ";
	auto ids = message_ids(many);
	REQUIRE(ids.size() == 1000);
	CHECK(ids.back() == "1499@x"); // the newest are kept
}

TEST_CASE("ORDEREDSUBJECT: one thread per subject, the earliest its parent, threads by date", "[imap][thread]")
{
	std::vector<ThreadMessage> m = {
		msg(1, "", {}, "A", 10), msg(2, "", {}, "B", 5), msg(3, "", {}, "A", 20),
		msg(4, "", {}, "A", 15), msg(5, "", {}, "C", 1), msg(6, "", {}, "B", 5),
	};
	// B's two messages have one date: the earlier in the mailbox is the parent.
	CHECK(thread_orderedsubject(m).format() == "(5)(2 6)(1 (4)(3))");
	CHECK(thread_orderedsubject({}).format().empty());
}

TEST_CASE("REFERENCES: chains, branches, a missing parent, threads by date", "[imap][thread]")
{
	std::vector<ThreadMessage> m = {
		msg(1, "a@x", {}, "X", 1),
		msg(2, "b@x", {"a@x"}, "X", 2, true),
		msg(3, "c@x", {"a@x", "b@x"}, "X", 3, true),
		msg(4, "d@x", {"a@x"}, "X", 4, true),
		// Two replies to a message that is not in the mailbox: a dummy root holds them.
		msg(5, "e@x", {"z@x"}, "OTHER", 5, true),
		msg(6, "f@x", {"z@x"}, "OTHER", 6, true),
		// A missing message in the middle of a chain gives way to its child.
		msg(7, "h@x", {"a@x", "q@x"}, "X", 8, true),
		// A reply to a missing message, alone: no dummy is left around it.
		msg(8, "g@x", {"y@x"}, "SOLO", 7, true),
	};
	CHECK(thread_references(m).format() == "(1 (2 3)(4)(7))((5)(6))(8)");
}

TEST_CASE("REFERENCES: threads of one base subject merged (RFC 5256 4 step 5)", "[imap][thread]")
{
	SECTION("a reply under the thread that is not one")
	{
		std::vector<ThreadMessage> m = {msg(1, "p@x", {}, "LUNCH", 1), msg(2, "q@x", {"gone@x"}, "LUNCH", 2, true)};
		CHECK(thread_references(m).format() == "(1 2)");
	}
	SECTION("two messages that are not replies: siblings under a new dummy")
	{
		std::vector<ThreadMessage> m = {msg(1, "p@x", {}, "LUNCH", 1), msg(2, "q@x", {}, "LUNCH", 2)};
		CHECK(thread_references(m).format() == "((1)(2))");
	}
	SECTION("a message joins a dummy of its subject, two dummies join")
	{
		std::vector<ThreadMessage> m = {
			msg(1, "a@x", {"z@x"}, "LUNCH", 3, true), msg(2, "b@x", {"z@x"}, "LUNCH", 4, true),
			msg(3, "c@x", {}, "LUNCH", 1),		  msg(4, "d@x", {"w@x"}, "LUNCH", 5, true),
			msg(5, "e@x", {"w@x"}, "LUNCH", 6, true),
		};
		CHECK(thread_references(m).format() == "((3)(1)(2)(4)(5))");
	}
	SECTION("an empty subject merges nothing")
	{
		std::vector<ThreadMessage> m = {msg(1, "p@x", {}, "", 1), msg(2, "q@x", {}, "", 2)};
		CHECK(thread_references(m).format() == "(1)(2)");
	}
}

TEST_CASE("REFERENCES: loops, repeated identifiers and a parent given again", "[imap][thread]")
{
	SECTION("two messages naming each other as parent: no loop, both shown once")
	{
		std::vector<ThreadMessage> m = {msg(1, "a@x", {"b@x"}, "S1", 1), msg(2, "b@x", {"a@x"}, "S2", 2)};
		CHECK(thread_references(m).format() == "(2 1)");
	}
	SECTION("a message naming itself")
	{
		std::vector<ThreadMessage> m = {msg(1, "a@x", {"a@x"}, "S", 1)};
		CHECK(thread_references(m).format() == "(1)");
	}
	SECTION("a repeated Message-ID: the second is a message of its own")
	{
		std::vector<ThreadMessage> m = {msg(1, "a@x", {}, "S1", 1), msg(2, "a@x", {}, "S2", 2),
						msg(3, "c@x", {"a@x"}, "S3", 3)};
		CHECK(thread_references(m).format() == "(1 3)(2)");
	}
	SECTION("the last message's References replace a parent an earlier one implied")
	{
		std::vector<ThreadMessage> m = {msg(1, "a@x", {}, "S1", 1), msg(2, "b@x", {}, "S2", 2),
						msg(3, "c@x", {"a@x", "d@x"}, "S3", 3), msg(4, "d@x", {"b@x"}, "S4", 4)};
		// Message 3's References put d under a; d's own put it, and 3 with it, under b.
		CHECK(thread_references(m).format() == "(1)(2 4 3)");
	}
}

TEST_CASE("REFERENCES: a chain as long as the mailbox costs no stack", "[imap][thread]")
{
	constexpr std::uint32_t n = 200000;
	std::vector<ThreadMessage> m;
	m.reserve(n);
	for (std::uint32_t i = 1; i <= n; i++)
		m.push_back(msg(i, std::to_string(i) + "@x", i > 1 ? std::vector<std::string>{std::to_string(i - 1) + "@x"} : std::vector<std::string>{},
				"S", i));
	std::string out = thread_references(m).format();
	CHECK(out.substr(0, 10) == "(1 2 3 4 5");
	CHECK(out.substr(out.size() - 8) == " 200000)");
	CHECK(std::count(out.begin(), out.end(), '(') == 1);
}

TEST_CASE("REFS: no merging by subject, threads by their latest arrival", "[imap][thread]")
{
	// (id, Message-ID, References, base subject, sent, reply, arrival)
	std::vector<ThreadMessage> m = {
		msg(1, "a1@x", {}, "PLAN", 10, false, 40),
		msg(2, "a2@x", {"a1@x"}, "PLAN", 11, true, 50),
		msg(3, "b1@x", {}, "LUNCH", 9, false, 10),
		msg(4, "b2@x", {"b1@x"}, "LUNCH", 12, true, 20),
		// A reply to a message that is not here: REFERENCES puts it under "PLAN".
		msg(5, "c2@x", {"gone@x"}, "PLAN", 8, true, 30),
		// Arrived last, sent first: children stay in sent order, the thread moves last.
		msg(6, "b3@x", {"b1@x"}, "LUNCH", 1, true, 60),
	};
	CHECK(thread_references(m).format() == "(3 (6)(4))(1 (5)(2))");
	CHECK(thread_refs(m).format() == "(5)(1 2)(3 (6)(4))");
	// Without 6 the "LUNCH" thread's latest arrival is 4's, the earliest of the three.
	m.pop_back();
	CHECK(thread_refs(m).format() == "(3 4)(5)(1 2)");
	CHECK(thread_refs({}).format().empty());
}

TEST_CASE("REFS: a dummy root's thread goes by its messages' arrival; ties by place", "[imap][thread]")
{
	std::vector<ThreadMessage> m = {
		msg(1, "p@x", {}, "X", 1, false, 100),
		// Two answers to a missing message: the dummy root takes the later arrival of the two.
		msg(2, "q@x", {"z@x"}, "Y", 2, true, 50), msg(3, "r@x", {"z@x"}, "Y", 3, true, 150),
		// Same arrival as 1: the later place in the mailbox goes after it.
		msg(4, "s@x", {}, "X", 4, false, 100),
	};
	CHECK(thread_refs(m).format() == "(1)(4)((2)(3))");
}
