#include "auth/passwd-file.hpp"

#include <catch2/catch.hpp>

using namespace maild;

namespace {
const char *bob_hash = "$6$maildtestsalt$pPtm5FAOnJtRsM5hy8jjsVYH8.OVLhhOIKXFF7MJ2V09yAg4fARqpSilJL6l1V0i8vXIe97jOwPBMlnMjWOzz/";
}

TEST_CASE("passwd-file: schemes, comments, extra fields", "[passwd]")
{
	std::vector<std::string> warnings;
	std::string text = "# comment\n\n  \n"
			   "alice:{PLAIN}open sesame:1000:1000::::\r\n"
			   "bob:{SHA512-CRYPT}" + std::string(bob_hash) + "\n"
			   "carol:{plain}lower-case scheme\n"
			   "dave:" + std::string(bob_hash) + "\n";
	auto pf = PasswdFile::parse(text, warnings);
	CHECK(warnings.empty());
	CHECK(pf.size() == 4);
	CHECK(pf.verify("alice", "open sesame"));
	CHECK_FALSE(pf.verify("alice", "open sesame "));
	CHECK_FALSE(pf.verify("alice", "open"));
	CHECK_FALSE(pf.verify("alice", ""));
	CHECK(pf.verify("bob", "hunter2"));
	CHECK_FALSE(pf.verify("bob", "hunter3"));
	CHECK(pf.verify("carol", "lower-case scheme"));
	CHECK(pf.verify("dave", "hunter2")); // no scheme: CRYPT
	CHECK_FALSE(pf.verify("dave", bob_hash));
	CHECK_FALSE(pf.verify("nobody", "hunter2"));
}

TEST_CASE("passwd-file: unusable lines are skipped with a warning", "[passwd]")
{
	std::vector<std::string> warnings;
	auto pf = PasswdFile::parse("../evil:{PLAIN}x\n"
				    "a/b:{PLAIN}x\n"
				    ":{PLAIN}x\n"
				    "nocolon\n"
				    "u1:{MD5}abc\n"
				    "u2:{PLAIN}\n"
				    "u3:{SHA512-CRYPT}notahash\n"
				    "u4:plaintext\n"
				    "u5:{PLAIN\n"
				    "ok:{PLAIN}x\n"
				    "ok:{PLAIN}y\n",
				    warnings);
	CHECK(pf.size() == 1);
	CHECK(pf.verify("ok", "x"));
	CHECK_FALSE(pf.verify("ok", "y"));
	CHECK(warnings.size() == 10);
}

TEST_CASE("passwd-file: a hash this system's crypt() cannot verify is refused when loaded", "[passwd]")
{
	// No crypt() knows a method "$9$": the line is refused now, with a reason, rather than taking
	// the account and failing every login later. A method it knows is taken.
	std::vector<std::string> warnings;
	auto pf = PasswdFile::parse("odd:{CRYPT}$9$salt$hash\n"
				    "six:{CRYPT}$6$maildDummySalt$CuN1t9cS9VwlPlV8fG3b0qZ0A2H5u0Yq9k1Pj0Gm5a8q7y2fWb1m0Yg4uJ8Qe3sRz6tXn2cVd4kLh7pOi9aB1.\n",
				    warnings);
	REQUIRE(warnings.size() == 1);
	CHECK(warnings[0].find("line 1") != std::string::npos);
	CHECK(warnings[0].find("cannot verify $9$ hashes") != std::string::npos);
	CHECK(pf.size() == 1);
}

TEST_CASE("User names that are safe as directories", "[passwd]")
{
	CHECK(valid_user_name("alice"));
	CHECK(valid_user_name("alice@example.org"));
	CHECK(valid_user_name("a.b"));
	CHECK_FALSE(valid_user_name(""));
	CHECK_FALSE(valid_user_name("."));
	CHECK_FALSE(valid_user_name(".."));
	CHECK_FALSE(valid_user_name(".hidden"));
	CHECK_FALSE(valid_user_name("a/b"));
	CHECK_FALSE(valid_user_name("a..b"));
	CHECK_FALSE(valid_user_name("a b"));
	CHECK_FALSE(valid_user_name("a\nb"));
	CHECK_FALSE(valid_user_name(std::string(256, 'a')));
}

TEST_CASE("constant_time_equal", "[passwd]")
{
	CHECK(constant_time_equal("abc", "abc"));
	CHECK_FALSE(constant_time_equal("abc", "abd"));
	CHECK_FALSE(constant_time_equal("abc", "abcd"));
	CHECK_FALSE(constant_time_equal("", "a"));
	CHECK(constant_time_equal("", ""));
}
