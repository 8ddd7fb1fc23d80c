// An IMAP4rev1 session (RFC 3501, with LITERAL+, MULTIAPPEND, SASL-IR, UIDPLUS, IDLE, NAMESPACE,
// UNSELECT, CHILDREN, APPENDLIMIT, CONDSTORE, QRESYNC, SORT, THREAD) over one Connection.
//
// Input: lines are gathered into one command; a literal "{n}" / "{n+}" at a line's end makes
// the next n bytes part of it (Connection::read_raw). APPEND's message literals never enter
// memory: each is streamed to a file in the target mailbox's tmp/, and they become messages
// together when the command line ends. Commands run one at a time, in order; FETCH, STORE, SEARCH and LIST queue their
// replies only while the connection's output is under its bound and work in slices (busy()
// meanwhile), so pipelined commands wait in the connection's bounded buffer and no command
// holds memory or the loop in proportion to the mailbox.
//
// The selected mailbox is seen through a view: the UIDs and flags this client was told about.
// sync() compares it with the Maildir and sends EXISTS / EXPUNGE / FETCH FLAGS for what other
// sessions and delivery agents changed (never EXPUNGE during FETCH, STORE or SEARCH, which
// would renumber under the client, RFC 3501 7.4.1), as far as the output bound allows: the
// view changes only with what is sent, so the rest is reported later, nothing lost.
#pragma once

#include "auth/session-host.hpp"
#include "base/fd.hpp"
#include "imap/imap-parser.hpp"
#include "imap/imap-search-update.hpp"
#include "imap/mailbox-watch.hpp"
#include "net/connection.hpp"
#include "storage/maildir.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace maild {

class MessageBytes;
struct NotifyState; // imap-notify.hpp
struct NotifyWatched;

struct ImapLimits {
	std::uint64_t append_limit = 64ull * 1024 * 1024; // APPEND literals above this get NO [TOOBIG]
	std::size_t max_command = 64 * 1024;               // a command's text with its small literals
	// One APPEND with several messages (MULTIAPPEND): at most this many, together at most
	// four times append_limit; over either, NO [LIMIT].
	std::size_t append_max_messages = 1000;
	std::uint64_t append_total_limit() const
	{
		return append_limit > UINT64_MAX / 4 ? UINT64_MAX : append_limit * 4;
	}
};

class ImapSession final : public ConnectionHandler, private MailboxWatcher {
public:
	ImapSession(Connection &conn, SessionHost &host, const ImapLimits &limits);
	~ImapSession() override;
	ImapSession(const ImapSession &) = delete;
	ImapSession &operator=(const ImapSession &) = delete;

	// Sends the greeting.
	void start();

	void on_line(std::string_view line) override;
	void on_line_too_long() override;
	void on_raw(std::string_view chunk, bool last) override;
	void on_input_error(std::string_view why) override; // imap-compress.cpp
	bool busy() const override { return delaying_ || fetch_ != nullptr || sliced_ != nullptr; }
	// In IDLE, also while sync() has changes left to report that did not fit under the bound.
	bool streaming() const override
	{
		return !yielded_ && (fetch_ != nullptr || sliced_ != nullptr || (input_ == Input::idle && sync_pending_) ||
				     notify_wait_output_);
	}
	void produce() override;
	void on_idle_timeout() override;

	static std::string capabilities(const ImapLimits &limits);

private:
	enum class State { not_authenticated, authenticated, selected, logout };
	enum class Input { command, literal, append_literal, discard_literal, sasl, idle };

	struct ViewMessage {
		std::uint32_t uid = 0;
		std::string letters; // Maildir flag letters as last told to the client
		bool recent = false;
		bool expunged = false; // gone from disk, EXPUNGE not yet sent
		// The modseq that goes with `letters`: kept up to date whether CONDSTORE is enabled or
		// not, so that enabling it later does not report every message as changed.
		std::uint64_t modseq = 0;
	};
	struct FetchJob;
	class CopyJob;   // imap-copy.cpp
	class StoreJob;  // imap-selected.cpp
	class SearchJob; // imap-selected.cpp
	class SortJob;   // imap-sort-command.cpp
	class ListJob;   // imap-list.cpp

	// A command that does its work in slices (COPY of many messages, ...): while one runs the
	// session reads no further command, and the connection calls produce() whenever its output
	// has room, so one slice runs per loop iteration and other clients are served in between.
	class SlicedCommand {
	public:
		virtual ~SlicedCommand() = default;
		// Works until `until` or until the output is over its bound; true once the command
		// has sent its tagged reply.
		virtual bool step(std::chrono::steady_clock::time_point until) = 0;
	};
	// How long one slice may hold the loop.
	static constexpr std::chrono::milliseconds slice_time{20};
	// Ends the slice: the connection calls produce() again only in the loop's next iteration.
	void yield();

	// The command table (imap-commands.cpp): what execute() looks a parsed command up in. Each
	// command's own state lives in its handler's object (FetchJob, CopyJob, ...), not here.
	using Handler = void (ImapSession::*)(const ImapCommand &cmd);
	enum CommandFlag : unsigned {
		// Has a UID form (UID FETCH, ...; UID EXPUNGE from RFC 4315); the parser refuses UID
		// before any other verb.
		uid_form = 1u << 0,
		// Names messages by sequence number unless in its UID form: no EXPUNGE may be sent
		// before its tagged reply, as it would renumber under the client (RFC 3501 7.4.1).
		sequence_numbers = 1u << 1,
		// Changes the selected mailbox: refused when it was opened with EXAMINE.
		read_write = 1u << 2,
	};
	struct CommandSpec {
		ImapVerb verb;
		Handler handler;
		unsigned states; // state_bit() of each State the command is valid in
		unsigned flags;  // CommandFlag
	};
	static constexpr unsigned state_bit(State s) { return 1u << static_cast<unsigned>(s); }
	static const CommandSpec *find_command(ImapVerb verb);
	// Why the command cannot run in the current state: the tagged reply, if one is due.
	void refuse_in_state(const ImapCommand &cmd, const CommandSpec &spec);
	// May the reply to `cmd` be preceded by EXPUNGE responses?
	static bool expunge_allowed(const ImapCommand &cmd);

	// Commands with nothing but a reply or two (imap-commands.cpp).
	void capability(const ImapCommand &cmd);
	void noop(const ImapCommand &cmd);
	void logout(const ImapCommand &cmd);
	void starttls(const ImapCommand &cmd);
	void namespace_(const ImapCommand &cmd);
	void id(const ImapCommand &cmd);
	void enable(const ImapCommand &cmd);
	void check(const ImapCommand &cmd);
	// CONDSTORE and QRESYNC (RFC 7162): "MODSEQ (n)" for a FETCH response; the UIDs of `uids`
	// (ranges, "*" meaning the mailbox's last UID) the mailbox no longer holds, as a set.
	static std::string modseq_item(std::uint64_t modseq);
	std::string vanished_uids(const SequenceSet &uids) const;
	void close_or_unselect(const ImapCommand &cmd);
	void append_without_literal(const ImapCommand &cmd);
	void compress(const ImapCommand &cmd); // imap-compress.cpp

	// Input.
	void command_line(std::string_view line);
	void literal_start(const LiteralSpec &lit);
	void reject_literal(const LiteralSpec &lit, std::string reply);
	void finish_command();
	void reset_command();
	std::string current_tag() const;
	void execute(std::string_view text);

	// Replies.
	void untagged(std::string_view text);
	void tagged(const std::string &tag, std::string_view status, std::string_view text);
	// The tagged OK of a command that may report mailbox changes first (EXPUNGE only where
	// expunge_allowed()).
	void done_ok(const ImapCommand &cmd, std::string_view text);

	// Not authenticated (imap-auth.cpp).
	void login_command(const ImapCommand &cmd);
	void login(const std::string &tag, const std::string &user, std::string_view password);
	void fail_login(const std::string &tag);
	void authenticate(const ImapCommand &cmd);
	void sasl_line(std::string_view line);

	// Authenticated: mailboxes (imap-mailboxes.cpp).
	std::optional<std::string> mailbox_dir(const ImapCommand &cmd, const std::string &name);
	// Opens the existing mailbox named by cmd.args[0] into `mb`; its directory, or nothing
	// once the NO has been sent.
	std::optional<std::string> open_mailbox(const ImapCommand &cmd, Mailbox &mb);
	void select(const ImapCommand &cmd); // and EXAMINE
	void close_mailbox();
	void list(const ImapCommand &cmd); // and LSUB
	void status(const ImapCommand &cmd);
	// "MESSAGES 3 UNSEEN 1": STATUS's values for `names`, also LIST's RETURN (STATUS (...)).
	static std::string status_values(const Mailbox &mb, const std::vector<std::string> &names);
	void create_delete_rename(const ImapCommand &cmd);
	void subscribe(const ImapCommand &cmd); // and UNSUBSCRIBE
	// APPEND (imap-append.cpp).
	void append_literal_begin(const LiteralSpec &lit);
	bool append_start(const ImapCommand &cmd, const LiteralSpec *lit);
	// Brings the files up to what the command so far names; `lit` is the literal it ends in.
	void append_advance(const ImapCommand &cmd, const LiteralSpec *lit);
	bool append_open_file(const ImapCommand &cmd, const ImapCommand::AppendMessage &m, const LiteralSpec *lit);
	void append_stream(const LiteralSpec &lit);
	const char *append_room(std::uint64_t size) const;
	bool append_url(const std::string &text, std::string &reply); // CATENATE URL part
	void append_fail(const std::string &tag, const LiteralSpec *lit, const std::string &reply);
	bool append_close_file();
	void append_write(std::string_view chunk);
	void append_literal_end();
	// A line after a message literal: the next message's, or the end of the command.
	void append_continue(std::string_view line);
	void append_finish(const ImapCommand &cmd);
	// Removes every file of the APPEND in progress and ends it.
	void append_discard();
	// IDLE (imap-idle.cpp).
	void idle_start(const ImapCommand &cmd);
	void idle_done(bool ok);
	void mailbox_changed(MailboxSnapshot &snapshot) override;
	// NOTIFY (imap-notify.cpp). The hooks: after this session changed mailbox names or
	// subscriptions (before its tagged OK), and after the selected mailbox changed.
	void notify(const ImapCommand &cmd);
	void notify_local_change();
	void notify_selected_changed();
	void notify_schedule();
	void notify_flush();
	bool notify_between_commands() const;
	bool notify_rescan(bool initial_status);
	void notify_names();
	void notify_status(NotifyWatched &box, bool always);
	void notify_overflow();

	// Selected (imap-selected.cpp).
	// Reports changes while the output is under its bound; the rest stays pending (the view
	// keeps what the client was told) and sync_pending_ says so. With `reload` false, against
	// the mailbox as last read (what is still pending), without looking at the disk.
	// True when the mailbox was read again (or found unchanged) and everything reported.
	bool sync(bool allow_expunge, bool reload = true);
	// sync()'s parts: reading the mailbox again if it changed (false when that failed), and
	// adding the messages from mailbox_.messages()[first] on to the view, with EXISTS and RECENT.
	bool sync_reload();
	// The mailbox and keywords as read by another session a moment ago, instead of the disk.
	void sync_adopt(const Mailbox &mailbox, const Keywords &keywords);
	// FLAGS for keywords_ when there are more than `known` of them now.
	void announce_keywords(std::size_t known);
	void sync_new(std::size_t first);
	// Moves the mailbox's \Recent mark past what this session was told (RFC 3501 2.3.2).
	void claim_recent();
	// View indexes the set names; UIDs beyond the view are skipped, as RFC 3501 asks.
	bool resolve(const ImapCommand &cmd, std::vector<std::size_t> &out);
	std::string flags_of(const ViewMessage &v) const;
	// Message v as it was, when another session expunged it while this client may still name
	// it (RFC 2180 4.1): nothing when it was not held for this session.
	std::optional<HeldMessage> held(const ViewMessage &v) const;
	void store(const ImapCommand &cmd);
	void expunge(const ImapCommand &cmd);
	void expunge_deleted(const std::vector<std::uint32_t> *only);
	void copy(const ImapCommand &cmd); // and MOVE
	void search(const ImapCommand &cmd);
	// What SEARCH, SORT and THREAD do first: refuse a charset other than UTF-8 and US-ASCII,
	// read the mailbox, resolve keywords and "$" in the keys. Nothing (the reply sent) on failure.
	std::optional<SearchKey> search_keys(const ImapCommand &cmd);
	// SEARCH, SORT and THREAD choose messages in slices: from view index `next` on, calls
	// found(index, file) for each message still in the store that matches `key`, until `until`
	// passes or the output fills (false: call again) or the view ends (true). `resumed`: a slice
	// ran before this one, so other sessions may have renamed files (flags) meanwhile.
	bool search_slice(const SearchKey &key, bool resumed, std::size_t &next, MessageBytes &bytes,
			  std::chrono::steady_clock::time_point until,
			  const std::function<void(std::size_t index, const MessageFile &file)> &found);
	void sort(const ImapCommand &cmd); // and THREAD (imap-sort-command.cpp)
	// Does `key` match view message i? Nothing when its file is gone.
	std::optional<bool> search_matches(const SearchKey &key, std::size_t i, MessageBytes &bytes);
	// SORT's keys of a message, from the loop's SortCache or read into `bytes`.
	std::shared_ptr<const SortFields> sort_fields_of(const MessageFile &file, MessageBytes &bytes);
	// RETURN (UPDATE) (RFC 5267 4.3, imap-search-update.cpp): a tag already in use is refused
	// (BAD sent, true); a finished SEARCH or SORT keeps its result live, or says NO [NOUPDATE];
	// report_search_updates() sends ADDTO and REMOVEFROM for what the view changed; CANCELUPDATE.
	bool update_tag_taken(const ImapCommand &cmd);
	void keep_search_context(const ImapCommand &cmd, const SearchKey &key, std::vector<std::uint32_t> uids,
				 std::vector<std::shared_ptr<const SortFields>> fields, std::uint64_t seen_modseq);
	void report_search_updates();
	void cancelupdate(const ImapCommand &cmd);

	// FETCH (imap-fetch.cpp).
	void fetch(const ImapCommand &cmd);
	void produce_fetch(std::chrono::steady_clock::time_point until);
	bool fetch_next_message();
	bool set_seen_ahead(FetchJob &job, std::size_t first);
	void fetch_next_item();
	void fetch_send_range();
	bool fetch_open(const MessageFile &m);
	void fetch_finish();

	Connection &conn_;
	SessionHost &host_;
	ImapLimits limits_;
	State state_ = State::not_authenticated;

	Input input_ = Input::command;
	std::string cmd_;              // the command so far, literals inline
	std::string rejected_reply_;   // sent once a refused LITERAL+ literal has been skipped
	// An APPEND from its first message literal to its final CRLF: the target's directory,
	// the messages complete in its tmp/, the one streaming in now, their sizes together.
	bool append_active_ = false;
	std::string append_dir_;
	struct AppendFile {
		std::string path; // empty once handed to the batch
		std::uint64_t vsize = 0;
	};
	std::vector<AppendFile> append_files_;
	std::uint64_t append_bytes_ = 0;
	std::int64_t append_date_ = 0;
	Fd append_fd_;                 // the message literal streaming into tmp/
	std::string append_path_;
	std::uint64_t append_vsize_ = 0;
	bool append_last_cr_ = false;
	bool append_write_failed_ = false;
	// CATENATE: the current message's file stays open between its parts; the next part to
	// add, and the message's bytes so far (bounded by append_limit).
	bool append_open_ = false;
	std::size_t append_part_ = 0;
	std::uint64_t append_msg_bytes_ = 0;
	std::string sasl_tag_;

	bool delaying_ = false;
	iol::Timeout delay_;

	std::string user_;
	std::string user_root_;
	// RFC 7162: enabled by ENABLE or by the first command that uses it, for the whole session.
	bool condstore_ = false;
	bool qresync_ = false; // implies condstore_

	// Selected mailbox.
	std::string mailbox_name_;
	bool read_only_ = false;
	Mailbox mailbox_;
	Keywords keywords_;
	std::vector<ViewMessage> view_;
	std::uint32_t view_max_uid_ = 0; // every UID up to this one has been announced
	// "$" (RFC 5182): the UIDs the last SEARCH ... RETURN (SAVE) found, ascending; emptied when
	// a mailbox is selected or closed. At most one per message in view.
	std::vector<std::uint32_t> saved_uids_;
	// RETURN (UPDATE)'s live results, at most max_search_contexts; gone with the mailbox.
	std::vector<SearchContext> contexts_;
	// This session as a viewer of the selected mailbox: what others expunge stays readable here
	// until EXPUNGE has been sent for it.
	MailboxViewer viewer_;

	bool sync_pending_ = false;
	bool reload_pending_ = false; // sync_pending_, and the mailbox changed since it was read
	bool defer_claim_ = false;    // sync_new() leaves claim_recent() to its caller...
	bool claim_due_ = false;      // ...and says here that it is due
	std::size_t sync_resume_ = 0; // where a sync() without reload goes on comparing
	std::string idle_tag_;
	MailboxWatch idle_watch_; // in IDLE with a mailbox selected

	std::unique_ptr<FetchJob> fetch_;
	std::unique_ptr<SlicedCommand> sliced_;
	// A slice may span several produce() calls (the connection calls it again as long as the
	// socket takes what it queued), so its end is kept; once past it, streaming() is false
	// until yield_ runs, and the connection goes back to the loop.
	std::chrono::steady_clock::time_point slice_end_{};
	bool yielded_ = false;
	iol::Timeout yield_;

	std::unique_ptr<NotifyState> notify_; // NOTIFY SET in force
	bool notify_wait_output_ = false;     // notifications wait for the output to drain
};

} // namespace maild
