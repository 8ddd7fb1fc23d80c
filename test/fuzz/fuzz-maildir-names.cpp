// Maildir names (maildir.hpp) and the uidlist text (uidlist.hpp):
// - base/flags/file name round trips: flags come back sorted and each letter once;
// - maildir_name_vsize only reads the digits after ",W=";
// - mailbox_directory never gives a path outside the user's root, nor the root's parent, for any
//   name;
// - Uidlist::parse accepts only ascending UIDs below next_uid, and format() round-trips it.
#include "fuzz-check.hpp"
#include "storage/maildir.hpp"
#include "storage/uidlist.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

bool sorted_unique(std::string_view s)
{
	for (std::size_t i = 1; i < s.size(); i++)
		if (!(s[i - 1] < s[i])) // std::sort's order: char's, whatever its signedness
			return false;
	return true;
}

std::string sort_unique(std::string_view s)
{
	std::string f(s);
	std::sort(f.begin(), f.end());
	f.erase(std::unique(f.begin(), f.end()), f.end());
	return f;
}

void check_file_name(std::string_view name)
{
	std::string_view base = maild::maildir_base_name(name);
	std::string flags = maild::maildir_flags(name);
	FUZZ_CHECK(name.substr(0, base.size()) == base);
	FUZZ_CHECK(base.find(':') == std::string_view::npos);
	FUZZ_CHECK(base.size() == name.size() || name[base.size()] == ':');
	FUZZ_CHECK(sorted_unique(flags));
	auto info = name.find(":2,");
	if (info == std::string_view::npos)
		FUZZ_CHECK(flags.empty());
	else
		FUZZ_CHECK(flags == sort_unique(name.substr(info + 3)));

	std::string rebuilt = maild::maildir_file_name(base, flags);
	FUZZ_CHECK(maild::maildir_base_name(rebuilt) == base);
	FUZZ_CHECK(maild::maildir_flags(rebuilt) == flags);
	FUZZ_CHECK(maild::maildir_file_name(base, maild::maildir_flags(rebuilt)) == rebuilt);
	// A name already in canonical form is its own rebuild.
	if (info != std::string_view::npos && info == base.size() &&
	    name.substr(info + 3) == flags)
		FUZZ_CHECK(rebuilt == name);
}

void check_vsize(std::string_view base)
{
	auto v = maild::maildir_name_vsize(base);
	auto w = base.find(",W=");
	if (w == std::string_view::npos) {
		FUZZ_CHECK(!v);
		return;
	}
	std::string_view digits = base.substr(w + 3);
	digits = digits.substr(0, digits.find_first_not_of("0123456789"));
	std::uint64_t expect = 0;
	bool fits = !digits.empty();
	for (char c : digits) {
		auto d = static_cast<std::uint64_t>(c - '0');
		if (expect > (UINT64_MAX - d) / 10) {
			fits = false;
			break;
		}
		expect = expect * 10 + d;
	}
	FUZZ_CHECK(v.has_value() == fits);
	if (v)
		FUZZ_CHECK(*v == expect);
}

void check_mailbox(const std::string &root, std::string_view name)
{
	auto dir = maild::mailbox_directory(root, name);
	std::string upper(name);
	for (char &c : upper)
		if (c >= 'a' && c <= 'z')
			c = static_cast<char>(c - 'a' + 'A');
	if (upper == "INBOX") {
		FUZZ_CHECK(dir && *dir == root);
		return;
	}
	if (!dir)
		return;
	// root + "/." + one path component that is neither "." nor "..", without control bytes.
	FUZZ_CHECK(dir->size() > root.size() + 2);
	FUZZ_CHECK(dir->compare(0, root.size() + 2, root + "/.") == 0);
	std::string_view leaf = std::string_view(*dir).substr(root.size() + 1);
	FUZZ_CHECK(leaf.find('/') == std::string_view::npos);
	FUZZ_CHECK(leaf != "." && leaf != "..");
	FUZZ_CHECK(leaf.find('\0') == std::string_view::npos);
	for (char c : leaf) {
		auto u = static_cast<unsigned char>(c);
		FUZZ_CHECK(u >= 0x20 && u != 0x7f);
	}
	FUZZ_CHECK(leaf.substr(0, 1) == ".");
	FUZZ_CHECK(leaf.find("..") == std::string_view::npos);
}

void check_uidlist(std::string_view text)
{
	maild::Uidlist list;
	if (!maild::Uidlist::parse(text, list))
		return;
	FUZZ_CHECK(list.uidvalidity != 0);
	std::uint32_t prev = 0;
	for (const auto &e : list.entries) {
		FUZZ_CHECK(e.uid > prev && e.uid < list.next_uid);
		FUZZ_CHECK(e.base.find('/') == std::string::npos);
		FUZZ_CHECK(e.base.find('\n') == std::string::npos);
		prev = e.uid;
	}
	std::string text2 = list.format();
	maild::Uidlist again;
	FUZZ_CHECK(maild::Uidlist::parse(text2, again));
	FUZZ_CHECK(again.uidvalidity == list.uidvalidity && again.next_uid == list.next_uid);
	FUZZ_CHECK(again.entries.size() == list.entries.size());
	for (std::size_t i = 0; i < list.entries.size(); i++) {
		FUZZ_CHECK(again.entries[i].uid == list.entries[i].uid);
		FUZZ_CHECK(again.entries[i].vsize == list.entries[i].vsize);
		FUZZ_CHECK(again.entries[i].base == list.entries[i].base);
	}
	FUZZ_CHECK(again.format() == text2);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	std::string_view all(reinterpret_cast<const char *>(data), size);
	check_file_name(all);
	check_vsize(all);
	check_uidlist(all);
	check_mailbox("/var/mail/user", all);
	check_mailbox("/", all);
	check_mailbox("", all);

	// A base (up to the first NUL) and flags (after it) given separately.
	auto nul = all.find('\0');
	if (nul != std::string_view::npos) {
		std::string_view base = all.substr(0, nul), flags = all.substr(nul + 1);
		std::string name = maild::maildir_file_name(base, flags);
		if (base.find(':') == std::string_view::npos) {
			FUZZ_CHECK(maild::maildir_base_name(name) == base);
			FUZZ_CHECK(maild::maildir_flags(name) == sort_unique(flags));
		}
		check_file_name(name);
	}
	return 0;
}
