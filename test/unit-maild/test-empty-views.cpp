// An empty string_view may carry a null pointer (a default one, or an empty file's bytes), and
// memchr, memcpy and memmove must never get a null pointer, even with a size of 0 (the C
// standard makes it undefined; UBSan stops on it). These run the parsers and converters on such
// views; they matter under the sanitizer build.
#include "imap/imap-message.hpp"
#include "mail/crlf.hpp"
#include "net/output-queue.hpp"
#include "storage/message-bytes.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace maild;

TEST_CASE("CRLF size and conversion of a null empty view", "[imap-message]")
{
	std::string_view none;
	REQUIRE(none.data() == nullptr);
	CHECK(crlf_size(none) == 0);
	char out[1];
	bool cr = false;
	CHECK(copy_crlf(none, out, cr) == out);
	std::string s;
	append_crlf(none, s, cr);
	CHECK(s.empty());
}

TEST_CASE("An empty message parses, and every FETCH part of it is empty", "[imap-message]")
{
	ImapMessage m{std::string_view()};
	CHECK(m.bodystructure(true).find("\"TEXT\" \"PLAIN\"") != std::string::npos);
	CHECK(m.bodystructure(false).find(" 0 0)") != std::string::npos); // size 0, 0 lines
	CHECK(m.envelope() == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	auto whole = m.section({}, SectionPart::whole, {});
	REQUIRE(whole);
	CHECK(whole->range.empty());
	CHECK(crlf_size(m.header()) == 0);
	CHECK(!m.header_value("Subject"));
}

TEST_CASE("An empty file's bytes are an empty view with a pointer", "[imap-message]")
{
	char name[] = "/tmp/maild-empty-XXXXXX";
	int fd = mkstemp(name);
	REQUIRE(fd >= 0);
	close(fd);
	MessageBytes bytes;
	REQUIRE(bytes.open(AT_FDCWD, name));
	unlink(name);
	CHECK(bytes.data().empty());
	CHECK(bytes.data().data() != nullptr);
	ImapMessage m(bytes.data());
	CHECK(!m.bodystructure(true).empty());
}

TEST_CASE("Reserving nothing in a queue that never had a buffer", "[output-queue]")
{
	OutputQueue q;
	q.reserve(0);
	q.commit(0);
	q.append({});
	CHECK(q.empty());
}
