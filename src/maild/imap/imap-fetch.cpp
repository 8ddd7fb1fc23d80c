// FETCH: the reply is built one attribute at a time and queued only while the connection's
// output is under its bound; an attribute's text (an ENVELOPE of a huge header) goes out in
// chunks, and literals are streamed from the file's bytes (message-bytes.hpp) as the socket
// drains; a BINARY literal is decoded (mail/transfer-encoding.hpp) in those same pieces, after
// a first decoding pass that only counts its size. So a FETCH holds at most one attribute's text
// besides the bounded queue, whatever the number of messages or attributes, and one produce()
// call works for at most slice_time (plus the building of one attribute).
#include "base/log.hpp"
#include "imap/imap-fetch-job.hpp"
#include "imap/imap-flags.hpp"
#include "imap/imap-message.hpp"
#include "imap/imap-session.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace maild {

namespace {

// Raw bytes of a literal converted per step (at most twice that queued), and bytes of text or
// padding queued per step: what the queue can go past its bound by.
constexpr std::size_t raw_chunk = 32 * 1024;
constexpr std::size_t text_chunk = 16 * 1024;
// An attribute's text buffer bigger than this is freed once sent, so one huge ENVELOPE does not
// keep its memory for the rest of the FETCH.
constexpr std::size_t text_keep = 64 * 1024;

bool needs_parse(const FetchAtt &a)
{
	using K = FetchAtt::Kind;
	switch (a.kind) {
	case K::envelope:
	case K::body:
	case K::bodystructure:
	case K::rfc822_header:
	case K::rfc822_text:
		return true;
	case K::body_section:
		return !a.part.empty() || a.text != SectionText::none;
	case K::binary:
	case K::binary_size:
		return !a.part.empty();
	default:
		return false;
	}
}

bool needs_file(const FetchAtt &a)
{
	using K = FetchAtt::Kind;
	return a.kind != K::uid && a.kind != K::flags && a.kind != K::rfc822_size && a.kind != K::modseq;
}

bool is_modseq(const FetchAtt &a)
{
	return a.kind == FetchAtt::Kind::modseq;
}

bool sets_seen(const FetchAtt &a)
{
	using K = FetchAtt::Kind;
	return a.kind == K::rfc822 || a.kind == K::rfc822_text || ((a.kind == K::body_section || a.kind == K::binary) && !a.peek);
}

bool is_binary(const FetchAtt &a)
{
	return a.kind == FetchAtt::Kind::binary || a.kind == FetchAtt::Kind::binary_size;
}

} // namespace

ImapSession::FetchJob::~FetchJob()
{
	if (cur_fd >= 0)
		::close(cur_fd);
}

// Opens message m of the mailbox into job.file: by name in cur/ when that directory could be
// opened, else by path.
bool ImapSession::fetch_open(const MessageFile &m)
{
	FetchJob &job = *fetch_;
	if (job.cur_fd == -2) {
		job.cur_fd = ::open((mailbox_.dir() + "/cur").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (job.cur_fd < 0)
			job.cur_fd = -1;
	}
	int dir_fd = job.cur_fd >= 0 ? job.cur_fd : AT_FDCWD;
	std::string name = job.cur_fd >= 0 ? m.file_name() : mailbox_.path_of(m);
	// INTERNALDATE is the file's mtime, which only open()'s fstat gives.
	if (job.wants_mtime)
		return job.file.open(dir_fd, name);
	return job.file.open_bounded(dir_fd, name, m.vsize, maildir_name_size(m.base));
}

void ImapSession::fetch(const ImapCommand &cmd)
{
	std::vector<std::size_t> indexes;
	if (!resolve(cmd, indexes))
		return;
	auto job = std::make_unique<FetchJob>();
	job->cmd = cmd;
	auto &atts = job->cmd.fetch;
	job->wants_mtime = std::any_of(atts.begin(), atts.end(),
				       [](const FetchAtt &a) { return a.kind == FetchAtt::Kind::internaldate; });
	// UID FETCH always reports the UID (RFC 3501 6.4.8), first, where clients look for it.
	if (cmd.uid && std::none_of(atts.begin(), atts.end(), [](const FetchAtt &a) { return a.kind == FetchAtt::Kind::uid; })) {
		FetchAtt uid;
		uid.kind = FetchAtt::Kind::uid;
		atts.insert(atts.begin(), uid);
	}
	if (cmd.vanished && !qresync_) {
		tagged(cmd.tag, "BAD", "VANISHED needs ENABLE QRESYNC"); // RFC 7162 3.2.6
		return;
	}
	if (cmd.changedsince || std::any_of(atts.begin(), atts.end(), is_modseq))
		condstore_ = true; // RFC 7162 3.1: a CONDSTORE enabling command
	if (cmd.changedsince) {
		// CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1) and leaves out the messages whose
		// modseq is not above it, as the store has them now.
		if (std::none_of(atts.begin(), atts.end(), is_modseq)) {
			FetchAtt modseq;
			modseq.kind = FetchAtt::Kind::modseq;
			atts.push_back(modseq);
		}
		std::string error;
		if (!mailbox_.refresh(error))
			log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
		std::erase_if(indexes, [&](std::size_t i) {
			auto at = mailbox_.find(view_[i].uid);
			return at && mailbox_.messages()[*at].modseq <= *cmd.changedsince;
		});
	}
	if (cmd.vanished) {
		// RFC 7162 3.2.6: the UIDs of the set that are gone, before the FETCH responses.
		std::string gone = vanished_uids(cmd.set);
		if (!gone.empty())
			untagged("VANISHED (EARLIER) " + gone);
	}
	job->indexes = std::move(indexes);
	fetch_ = std::move(job);
}

// \Seen for the message at view index `first` and the next messages of the FETCH that lack it
// (at most a batch), then one uidlist write for their modseqs: a FETCH BODY[] of thousands of
// unseen messages under CONDSTORE costs a write per batch, not per message. The others are
// remembered in job.seen_ahead, so their replies carry FLAGS and MODSEQ when they come. False
// when this message's \Seen could not be set.
bool ImapSession::set_seen_ahead(FetchJob &job, std::size_t first)
{
	constexpr std::size_t batch = 256;
	std::string error;
	bool first_set = false;
	std::size_t marked = 0;
	for (std::size_t k = job.next - 1; k < job.indexes.size() && marked < batch; k++) {
		std::size_t index = job.indexes[k];
		const ViewMessage &v = view_[index];
		auto at = v.expunged ? std::nullopt : mailbox_.find(v.uid);
		if (!at || mailbox_.messages()[*at].flags.find('S') != std::string::npos)
			continue;
		if (!mailbox_.set_flags(*at, mailbox_.messages()[*at].flags + "S", error)) {
			log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
			continue;
		}
		marked++;
		if (index == first)
			first_set = true;
		else
			job.seen_ahead.push_back(v.uid);
	}
	if (marked > 0 && !mailbox_.commit_flags(error))
		log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
	return first_set;
}

// Opens the next message still to answer and starts its reply; false when none is left.
bool ImapSession::fetch_next_message()
{
	FetchJob &job = *fetch_;
	job.parsed.reset();
	job.file.release();
	while (job.next < job.indexes.size()) {
		std::size_t index = job.indexes[job.next++];
		ViewMessage &v = view_[index];
		std::string error;
		auto at = mailbox_.find(v.uid);
		if (!at && mailbox_.refresh(error))
			at = mailbox_.find(v.uid);
		const auto &atts = job.cmd.fetch;
		bool file_needed = std::any_of(atts.begin(), atts.end(), needs_file);
		if (!v.expunged && at && file_needed && !fetch_open(mailbox_.messages()[*at])) {
			// Renamed by a flag change elsewhere, or expunged: look once more.
			if (errno != ENOENT || !mailbox_.refresh(error) ||
			    ((at = mailbox_.find(v.uid)) && !fetch_open(mailbox_.messages()[*at]))) {
				job.missing = true;
				continue;
			}
		}
		// Expunged by another session while this client still names it: answered as it was,
		// flags as last told, while it is held for this session (RFC 2180 4.1.1).
		std::optional<HeldMessage> kept;
		if (v.expunged || !at) {
			kept = held(v);
			if (!kept || (file_needed && !job.file.open(AT_FDCWD, kept->path))) {
				job.missing = true;
				continue;
			}
		}
		if (std::any_of(atts.begin(), atts.end(), needs_parse))
			job.parsed.emplace(job.file.data());
		// RFC 3516 4.2: a part the server cannot decode fails the whole FETCH, checked before
		// this message's reply starts or its \Seen is set.
		for (const FetchAtt &a : atts) {
			if (!is_binary(a) || a.part.empty())
				continue;
			auto b = job.parsed->binary_section(a.part);
			if (b && b->encoding == TransferEncoding::unknown) {
				job.unknown_cte = true;
				job.next = job.indexes.size();
				job.parsed.reset();
				job.file.release();
				return false;
			}
		}
		job.add_flags = false;
		bool seen_set = false;
		if (!kept && !read_only_ && std::any_of(atts.begin(), atts.end(), sets_seen)) {
			auto ahead = std::find(job.seen_ahead.begin(), job.seen_ahead.end(), v.uid);
			if (ahead != job.seen_ahead.end()) {
				job.seen_ahead.erase(ahead);
				seen_set = true;
			} else if (mailbox_.messages()[*at].flags.find('S') == std::string::npos) {
				// With CONDSTORE the new modseq is reported with the flags, so it must be on
				// disk first: this message and the next ones of the FETCH get \Seen now, with
				// one uidlist write for all. Without, one write at the FETCH's end.
				if (condstore_)
					seen_set = set_seen_ahead(job, index);
				else if (!(seen_set = mailbox_.set_flags(*at, mailbox_.messages()[*at].flags + "S", error)))
					log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
			}
		}
		if (seen_set) {
			if (!(at = mailbox_.find(v.uid))) {
				job.missing = true;
				continue;
			}
			v.letters = mailbox_.messages()[*at].flags;
			v.modseq = mailbox_.messages()[*at].modseq;
			job.add_flags = std::none_of(atts.begin(), atts.end(),
						     [](const FetchAtt &a) { return a.kind == FetchAtt::Kind::flags; });
		}
		job.index = index;
		if (kept) {
			job.vsize = kept->vsize;
			job.letters = v.letters;
			job.modseq = v.modseq;
		} else {
			const MessageFile &m = mailbox_.messages()[*at];
			job.vsize = m.vsize;
			job.letters = m.flags;
			job.modseq = m.modseq;
		}
		job.in_message = true;
		job.att = 0;
		job.first = true;
		job.text += "* " + std::to_string(index + 1) + " FETCH (";
		return true;
	}
	return false;
}

// Appends the reply's next attribute to job.text (and sets up its literal), or ends the reply.
void ImapSession::FetchJob::item(std::string_view s)
{
	if (!first)
		text += ' ';
	first = false;
	text += s;
}

void ImapSession::FetchJob::literal(ImapSession &s, const std::string &name, std::optional<SectionData> data,
				    const FetchAtt *att)
{
	std::uint64_t total = 0;
	if (data && data->is_range) {
		total = crlf_size(data->range);
		// Compares addresses: comparing a `const char *` with a string_view would compare
		// text, after a strlen() that runs off the end of the message.
		if (data->range.data() == file.data().data() && data->range.size() == file.data().size() &&
		    total != vsize)
			log_line(LogLevel::warn, s.conn_.peer(),
				 "user=" + s.user_ + ": uid " + std::to_string(s.view_[index].uid) + " has " + std::to_string(total) +
					 " bytes, not the " + std::to_string(vsize) + " recorded; sending what it has");
	} else if (data) {
		total = data->text.size();
	}
	std::uint64_t from = 0, size = total;
	if (att && att->partial) {
		from = std::min(att->origin, total);
		size = std::min(att->count, total - from);
	}
	item(name + " {" + std::to_string(size) + "}\r\n");
	if (size == 0)
		return;
	if (data->is_range) {
		decoder.reset();
		start_range(data->range, from, size);
	} else {
		text.append(data->text, static_cast<std::size_t>(from), static_cast<std::size_t>(size));
	}
}

void ImapSession::FetchJob::binary_literal(const std::string &name, const std::optional<BinarySection> &data,
					   const FetchAtt &att)
{
	DecodedShape shape;
	if (data)
		shape = measure_decoded(data->encoding, data->range);
	std::uint64_t from = 0, size = shape.size;
	if (att.partial) {
		from = std::min(att.origin, shape.size);
		size = std::min(att.count, shape.size - from);
	}
	item(name + (shape.has_nul ? " ~{" : " {") + std::to_string(size) + "}\r\n");
	if (size == 0)
		return;
	decoder.emplace(data->encoding);
	start_range(data->range, from, size);
}

void ImapSession::FetchJob::start_range(std::string_view bytes, std::uint64_t from, std::uint64_t size)
{
	in_range = true;
	range = bytes;
	skip = from;
	limit = size;
	range_pos = 0;
	last_cr = false;
	converted = 0;
}

void ImapSession::fetch_next_item()
{
	FetchJob &job = *fetch_;
	ViewMessage &v = view_[job.index];
	auto item = [&job](std::string_view s) { job.item(s); };
	auto literal = [this, &job](const std::string &name, std::optional<SectionData> data, const FetchAtt *att) {
		job.literal(*this, name, std::move(data), att);
	};
	const auto &atts = job.cmd.fetch;
	if (job.att >= atts.size()) {
		if (job.add_flags)
			item("FLAGS (" + flags_of(v) + ")");
		// A flag change this FETCH made carries its modseq once CONDSTORE is enabled.
		if (job.add_flags && condstore_ && std::none_of(atts.begin(), atts.end(), is_modseq))
			item(modseq_item(job.modseq));
		job.text += ")\r\n";
		job.in_message = false;
		return;
	}
	const FetchAtt &a = atts[job.att++];
	auto whole = [&]() { return std::optional<SectionData>(SectionData{true, job.file.data(), {}}); };
	using K = FetchAtt::Kind;
	switch (a.kind) {
	case K::uid:
		item("UID " + std::to_string(v.uid));
		break;
	case K::flags:
		// What the client is told here is its view from now on: sync() then reports only
		// what changes after this.
		v.letters = job.letters;
		v.modseq = job.modseq;
		item("FLAGS (" + flags_of(v) + ")");
		break;
	case K::internaldate:
		item("INTERNALDATE \"" + format_imap_date_time(job.file.mtime()) + "\"");
		break;
	case K::rfc822_size:
		item("RFC822.SIZE " + std::to_string(job.vsize));
		break;
	case K::modseq:
		v.modseq = std::max(v.modseq, job.modseq);
		item(modseq_item(job.modseq));
		break;
	case K::envelope:
		item("ENVELOPE " + job.parsed->envelope());
		break;
	case K::body:
		item("BODY " + job.parsed->bodystructure(false));
		break;
	case K::bodystructure:
		item("BODYSTRUCTURE " + job.parsed->bodystructure(true));
		break;
	case K::rfc822:
		literal("RFC822", whole(), nullptr);
		break;
	case K::rfc822_header:
		literal("RFC822.HEADER", job.parsed->section({}, SectionPart::header, {}), nullptr);
		break;
	case K::rfc822_text:
		literal("RFC822.TEXT", job.parsed->section({}, SectionPart::text, {}), nullptr);
		break;
	case K::body_section:
		literal(a.response_name(),
			job.parsed ? job.parsed->section(a.part, section_part(a.text), a.fields) : whole(), &a);
		break;
	case K::binary:
	case K::binary_size: {
		std::optional<BinarySection> b;
		if (job.parsed)
			b = job.parsed->binary_section(a.part);
		else
			b = BinarySection{job.file.data(), TransferEncoding::identity};
		if (a.kind == K::binary)
			job.binary_literal(a.response_name(), b, a);
		else
			item(a.response_name() + " " + std::to_string(b ? measure_decoded(b->encoding, b->range).size : 0));
		break;
	}
	}
}

// Converts the next raw chunk of the current literal straight into the output queue, keeping
// what lies inside [skip, skip + limit).
void ImapSession::fetch_send_range()
{
	FetchJob &job = *fetch_;
	std::string_view raw = job.range.substr(job.range_pos, raw_chunk);
	std::uint64_t from = job.converted, to = job.converted;
	if (!raw.empty()) {
		char *out, *end;
		job.range_pos += raw.size();
		if (job.decoder) {
			out = conn_.send_reserve(TransferDecoder::max_output(raw.size()));
			end = job.decoder->decode(raw, out);
			if (job.range_pos >= job.range.size())
				end = job.decoder->finish(end);
		} else {
			out = conn_.send_reserve(2 * raw.size());
			end = copy_crlf(raw, out, job.last_cr);
		}
		auto produced = static_cast<std::size_t>(end - out);
		to = from + produced;
		job.converted = to;
		std::uint64_t lo = std::max(from, job.skip), hi = std::min(to, job.skip + job.limit);
		if (lo < hi) {
			if (lo > from) // a partial FETCH starting inside this chunk
				std::memmove(out, out + (lo - from), static_cast<std::size_t>(hi - lo));
			conn_.send_commit(static_cast<std::size_t>(hi - lo));
		}
	}
	if (job.range_pos >= job.range.size() || to >= job.skip + job.limit) {
		std::uint64_t sent = std::min(to, job.skip + job.limit) - std::min(to, job.skip);
		if (sent < job.limit) {
			// The bytes changed under the literal's announced length (a file rewritten in
			// place): the length was promised, so spaces fill it up to keep the client in step
			// with the protocol, queued in chunks like everything else.
			log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": message changed while it was sent");
			job.pad = job.limit - sent;
		}
		job.in_range = false;
		job.range = {};
		job.decoder.reset();
	}
}

void ImapSession::produce_fetch(std::chrono::steady_clock::time_point until)
{
	while (fetch_ && !conn_.closed() && !conn_.output_full()) {
		FetchJob &job = *fetch_;
		if (job.text_pos < job.text.size()) {
			std::size_t n = std::min(text_chunk, job.text.size() - job.text_pos);
			conn_.send(std::string_view(job.text).substr(job.text_pos, n));
			job.text_pos += n;
			if (job.text_pos == job.text.size()) {
				job.text.clear();
				job.text_pos = 0;
				if (job.text.capacity() > text_keep)
					std::string().swap(job.text);
			}
			continue;
		}
		if (job.in_range) {
			fetch_send_range();
			continue;
		}
		if (job.pad > 0) {
			static const std::string spaces(text_chunk, ' ');
			auto n = static_cast<std::size_t>(std::min<std::uint64_t>(job.pad, spaces.size()));
			conn_.send(std::string_view(spaces).substr(0, n));
			job.pad -= n;
			continue;
		}
		// Every message and attribute is checked against the clock: FETCH 1:* of thousands of
		// tiny replies must not hold the loop either.
		if (std::chrono::steady_clock::now() >= until)
			return;
		if (job.in_message)
			fetch_next_item();
		else if (!fetch_next_message())
			fetch_finish();
	}
}

void ImapSession::fetch_finish()
{
	auto job = std::move(fetch_);
	std::string error;
	if (!mailbox_.commit_flags(error)) // the \Seen this FETCH set, without CONDSTORE
		log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
	if (job->unknown_cte) {
		sync(expunge_allowed(job->cmd));
		tagged(job->cmd.tag, "NO", "[UNKNOWN-CTE] Cannot decode the content transfer encoding of a part");
		return;
	}
	if (job->missing) {
		sync(expunge_allowed(job->cmd));
		tagged(job->cmd.tag, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
		return;
	}
	done_ok(job->cmd, "Fetch completed");
}

} // namespace maild
