// COPY and UID COPY: the messages are linked (or copied) into the target's tmp/, then given
// UIDs there.
#include "imap-flags.hpp"
#include "imap-session.hpp"
#include "log.hpp"
#include "mail-folders.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

namespace {

// "1,3:5" from ascending-or-not numbers, ranges where they run on.
std::string uid_set_text(const std::vector<std::uint32_t> &uids)
{
	std::string out;
	for (std::size_t i = 0; i < uids.size();) {
		std::size_t j = i;
		while (j + 1 < uids.size() && uids[j + 1] == uids[j] + 1)
			j++;
		if (!out.empty())
			out += ',';
		out += std::to_string(uids[i]);
		if (j > i)
			out += ":" + std::to_string(uids[j]);
		i = j + 1;
	}
	return out;
}

bool copy_file(const std::string &from, const std::string &to)
{
	int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return false;
	int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		::close(in);
		return false;
	}
	char buf[65536];
	bool ok = true;
	for (;;) {
		ssize_t n = read(in, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ok = n == 0;
			break;
		}
		for (ssize_t done = 0; ok && done < n;) {
			ssize_t w = write(out, buf + done, static_cast<std::size_t>(n - done));
			if (w < 0 && errno == EINTR)
				continue;
			ok = w > 0;
			done += w > 0 ? w : 0;
		}
		if (!ok)
			break;
	}
	ok = ok && fsync(out) == 0;
	::close(in);
	::close(out);
	if (!ok)
		unlink(to.c_str());
	return ok;
}

} // namespace

void ImapSession::copy(const ImapCommand &cmd)
{
	std::vector<std::size_t> indexes;
	if (!resolve(cmd, indexes))
		return;
	const std::string &name = cmd.args[0]; // "inbox" in any case arrives as INBOX (imap-parser)
	auto dir = mailbox_dir(cmd, name);
	if (!dir)
		return;
	if (!mailbox_exists(user_root_, name)) {
		tagged(cmd.tag, "NO", "[TRYCREATE] No such mailbox");
		return;
	}
	Mailbox target;
	std::string error;
	if (!Mailbox::open(*dir, target, error) || !mailbox_.refresh(error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": COPY: " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot open the mailbox");
		return;
	}
	Keywords target_keywords = Keywords::load(*dir);
	std::vector<std::uint32_t> from, to;
	bool failed = false;
	for (std::size_t i : indexes) {
		auto at = mailbox_.find(view_[i].uid);
		if (view_[i].expunged || !at) {
			failed = true;
			continue;
		}
		const MessageFile &m = mailbox_.messages()[*at];
		std::string src = mailbox_.path_of(m);
		std::string tmp = *dir + "/tmp/" + Mailbox::unique_base(m.vsize);
		struct stat st {};
		if (stat(src.c_str(), &st) < 0 || (link(src.c_str(), tmp.c_str()) < 0 && !copy_file(src, tmp))) {
			failed = true;
			continue;
		}
		// Keywords travel by name: the target mailbox may use other letters for them.
		std::string letters;
		for (char c : m.flags) {
			if (c < 'a' || c > 'z')
				letters += c;
			else if (auto k = static_cast<std::size_t>(c - 'a'); k < keywords_.names.size())
				if (char t = target_keywords.letter(keywords_.names[k], *dir, true))
					letters += t;
		}
		std::uint32_t uid = 0;
		if (!target.add(tmp, m.vsize, letters, st.st_mtim.tv_sec, uid, error)) {
			unlink(tmp.c_str());
			log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": COPY: " + error);
			tagged(cmd.tag, "NO", "[SERVERBUG] Copy failed part way");
			return;
		}
		from.push_back(m.uid);
		to.push_back(uid);
	}
	if (failed) {
		sync(cmd.uid);
		tagged(cmd.tag, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
		return;
	}
	if (from.empty()) {
		done_ok(cmd, "Copy completed", cmd.uid);
		return;
	}
	done_ok(cmd, "[COPYUID " + std::to_string(target.uidvalidity()) + " " + uid_set_text(from) + " " +
			     uid_set_text(to) + "] Copy completed", cmd.uid);
}

} // namespace maild
