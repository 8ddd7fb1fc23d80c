// A user's mailboxes as directories: INBOX is the user's root Maildir, every other mailbox a
// Maildir++ folder "<root>/.<name>" with '.' as the hierarchy delimiter (so "Work.2024" is
// "<root>/.Work.2024"). Names are checked by mailbox_directory() (maildir.hpp) before any
// path is built, so none leaves the root. Subscriptions are the lines of "<root>/subscriptions".
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace maild {

constexpr char mailbox_delimiter = '.';

// Every mailbox of the user, INBOX first, then the folders in name order.
std::vector<std::string> list_mailboxes(const std::string &user_root);
bool mailbox_exists(const std::string &user_root, std::string_view name);
// CREATE: the folder and any missing parents ("a.b.c" creates "a" and "a.b" too, RFC 3501 6.3.3).
bool create_mailbox(const std::string &user_root, std::string_view name, std::string &error);
// DELETE: the folder's messages and the folder; refused for INBOX and for a folder with children.
bool delete_mailbox(const std::string &user_root, std::string_view name, std::string &error);
// RENAME: the folder and its children ("a" -> "b" moves "a.x" to "b.x"); refused for INBOX.
bool rename_mailbox(const std::string &user_root, std::string_view from, std::string_view to,
		    std::string &error);

std::vector<std::string> load_subscriptions(const std::string &user_root);
bool set_subscribed(const std::string &user_root, std::string_view name, bool on, std::string &error);

} // namespace maild
