// COPY and UID COPY, all or nothing (RFC 3501 6.4.7), in slices of the loop: each message is
// linked (or copied) into the target's tmp/ as part of a MailboxBatch, the batch is moved into
// cur/ out of every reader's sight, and one uidlist write under the lock gives all the copies
// their UIDs. Any failure removes every copy made so far and answers NO.
#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/log.hpp"
#include "base/posix.hpp"
#include "imap/imap-flags.hpp"
#include "imap/imap-session.hpp"
#include "storage/mail-folders.hpp"

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

namespace {


// A copy of `from` as `to` (a new file) with `mtime` as its internal date, on disk before
// true is returned.
bool copy_file(const std::string &from, const std::string &to, const struct timespec &mtime)
{
	Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!in)
		return false;
	Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!out)
		return false;
	char buf[65536];
	bool ok = true;
	for (;;) {
		ssize_t n = read_full(in.get(), buf, sizeof buf);
		if (n <= 0) {
			ok = n == 0;
			break;
		}
		if (!write_full(out.get(), std::string_view(buf, static_cast<std::size_t>(n)))) {
			ok = false;
			break;
		}
	}
	struct timespec times[2] = {mtime, mtime};
	futimens(out.get(), times); // only the internal date is lost on failure
	ok = ok && fsync(out.get()) == 0;
	in.reset();
	out.reset();
	if (!ok)
		unlink(to.c_str());
	return ok;
}

} // namespace

class ImapSession::CopyJob final : public SlicedCommand {
public:
	CopyJob(ImapSession &session, const ImapCommand &cmd, std::vector<std::size_t> indexes, const std::string &dir)
		: s_(session), cmd_(cmd), indexes_(std::move(indexes)), target_(dir), target_keywords_(Keywords::load(dir)),
		  batch_(dir)
	{
	}

	bool step(std::chrono::steady_clock::time_point until) override
	{
		using Clock = std::chrono::steady_clock;
		std::string error;
		bool expunged = false;
		// At least one message per slice, however late it starts.
		refreshed_ = false;
		for (bool first = true; next_ < indexes_.size(); first = false) {
			if (!first && Clock::now() >= until)
				return false;
			bool again = false;
			if (!prepare(indexes_[next_], again, expunged, error))
				return expunged ? fail_expunged() : fail(error);
			if (again)
				return false; // this message again in the next slice, after a refresh
			next_++;
		}
		switch (batch_.stage(until, error)) {
		case MailboxBatch::Stage::more:
			return false;
		case MailboxBatch::Stage::failed:
			return fail(error);
		case MailboxBatch::Stage::done:
			break;
		}
		if (from_.empty()) {
			s_.done_ok(cmd_, "Copy completed");
			return true;
		}
		auto started = Clock::now();
		std::vector<std::uint32_t> to;
		if (!batch_.commit(target_, to, error))
			return fail(error);
		auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
		log_line(LogLevel::debug, s_.conn_.peer(),
			 "user=" + s_.user_ + ": COPY of " + std::to_string(to.size()) + " messages: commit " +
				 std::to_string(took.count()) + " us");
		std::string copyuid = "[COPYUID " + std::to_string(target_.uidvalidity()) + " " + sequence_set_text(from_) +
				      " " + sequence_set_text(to) + "]";
		if (cmd_.verb != ImapVerb::move) {
			s_.done_ok(cmd_, copyuid + " Copy completed");
			return true;
		}
		// RFC 6851 3.3: COPYUID before the EXPUNGEs, which the reply's sync sends.
		s_.untagged("OK " + copyuid + " Moved");
		std::sort(from_.begin(), from_.end());
		if (s_.mailbox_.expunge(from_, error, &s_.viewer_) > 0 || !error.empty()) {
			log_line(LogLevel::error, s_.conn_.peer(), "user=" + s_.user_ + ": MOVE: " + error);
			s_.sync(true);
			s_.tagged(cmd_.tag, "NO", "[SERVERBUG] Copied, but some messages could not be removed here");
			return true;
		}
		s_.done_ok(cmd_, "Move completed");
		return true;
	}

private:
	// Links (or copies) the message at view index `i` into the target's tmp/ and adds it to the
	// batch. False with `expunged` when it is gone, else with `error`; `again` when it is to be
	// tried in the next slice.
	bool prepare(std::size_t i, bool &again, bool &expunged, std::string &error)
	{
		const ViewMessage &v = s_.view_[i];
		std::uint32_t uid = v.uid;
		// The selected mailbox is not read again up front (for a large one that alone would
		// hold the loop for a while): a file that is not where the snapshot says was renamed
		// (flags) or expunged by another session, and a refresh tells which. At most one
		// refresh per slice.
		for (int attempt = 0;; attempt++) {
			std::optional<std::size_t> at;
			if (!v.expunged)
				at = s_.mailbox_.find(uid);
			// Expunged by another session while this client still names it: copied as it was,
			// with the flags last told, while it is held for this session (RFC 2180 4.4.1).
			std::optional<HeldMessage> kept;
			if (!at && !(kept = s_.held(v))) {
				expunged = true;
				return false;
			}
			const MessageFile *m = kept ? nullptr : &s_.mailbox_.messages()[*at];
			const std::string &flags = m != nullptr ? m->flags : v.letters;
			std::uint64_t vsize = m != nullptr ? m->vsize : kept->vsize;
			std::string src = m != nullptr ? s_.mailbox_.path_of(*m) : kept->path;
			std::string tmp = batch_.dir() + "/tmp/" + batch_.next_base(vsize);
			struct stat st {};
			bool ok = link(src.c_str(), tmp.c_str()) == 0;
			if (!ok && errno != ENOENT)
				ok = stat(src.c_str(), &st) == 0 && copy_file(src, tmp, stat_mtime(st));
			if (!ok && errno == ENOENT && kept) {
				expunged = true;
				return false;
			}
			if (!ok && errno == ENOENT && attempt == 0) {
				if (refreshed_) {
					again = true;
					return true;
				}
				refreshed_ = true;
				if (!s_.mailbox_.refresh(error))
					return false;
				continue;
			}
			if (!ok) {
				error = errno_text(src);
				return false;
			}
			// Keywords travel by name: the target mailbox may use other letters for them. One
			// the target has no room for, or cannot save, fails the copy: none is dropped.
			std::string letters;
			for (char c : flags) {
				if (c < 'a' || c > 'z') {
					letters += c;
					continue;
				}
				auto k = static_cast<std::size_t>(c - 'a');
				if (k >= s_.keywords_.names.size())
					continue;
				const std::string &name = s_.keywords_.names[k];
				std::optional<char> t = target_keywords_.find(name);
				if (!t && target_keywords_.full()) {
					keyword_limit_ = true;
					return false;
				}
				if (!t) {
					char added = '\0';
					if (!target_keywords_.add(name, target_.dir(), added)) {
						error = errno_text(target_.dir() + "/" + Keywords::file_name);
						return false;
					}
					t = added;
				}
				letters += *t;
			}
			batch_.add(vsize, letters);
			from_.push_back(uid);
			return true;
		}
	}

	bool fail(const std::string &error)
	{
		batch_.abort();
		if (keyword_limit_) {
			s_.tagged(cmd_.tag, "NO", "[LIMIT] Too many keywords in the target mailbox, nothing was copied");
			return true;
		}
		log_line(LogLevel::error, s_.conn_.peer(), "user=" + s_.user_ + ": COPY/MOVE: " + error);
		s_.tagged(cmd_.tag, "NO", "[SERVERBUG] Copy failed, nothing was copied");
		return true;
	}

	bool fail_expunged()
	{
		batch_.abort();
		s_.sync(expunge_allowed(cmd_));
		s_.tagged(cmd_.tag, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile, nothing was copied");
		return true;
	}

	ImapSession &s_;
	ImapCommand cmd_;
	bool keyword_limit_ = false;
	std::vector<std::size_t> indexes_; // view indexes to copy, in order
	std::size_t next_ = 0;             // indexes_[0, next_) are in the batch
	Mailbox target_;
	Keywords target_keywords_;
	MailboxBatch batch_;
	std::vector<std::uint32_t> from_; // their UIDs in the selected mailbox
	bool refreshed_ = false;          // the selected mailbox was refreshed in this slice
};

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
	// The target is not read here: the commit reads its uidlist once, under the lock.
	std::string error;
	if (!Mailbox::prepare(*dir, error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": COPY: " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot open the mailbox");
		return;
	}
	// The connection runs the job's slices from here on, the first in this loop iteration.
	sliced_ = std::make_unique<CopyJob>(*this, cmd, std::move(indexes), *dir);
}

} // namespace maild
