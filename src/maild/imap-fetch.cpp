// FETCH: one message's reply is built at a time, and its literals are streamed from the file's
// bytes (message-bytes.hpp) as the socket drains, so FETCH 1:* BODY[] of a large mailbox holds
// one reply at most.
#include "imap-fetch-job.hpp"
#include "imap-flags.hpp"
#include "imap-message.hpp"
#include "imap-session.hpp"
#include "log.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace maild {

namespace {

constexpr std::size_t raw_chunk = 32 * 1024;

SectionPart section_part(SectionText t)
{
	switch (t) {
	case SectionText::header:
		return SectionPart::header;
	case SectionText::header_fields:
		return SectionPart::header_fields;
	case SectionText::header_fields_not:
		return SectionPart::header_fields_not;
	case SectionText::text:
		return SectionPart::text;
	case SectionText::mime:
		return SectionPart::mime;
	case SectionText::none:
		break;
	}
	return SectionPart::whole;
}

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
	default:
		return false;
	}
}

bool needs_file(const FetchAtt &a)
{
	using K = FetchAtt::Kind;
	return a.kind != K::uid && a.kind != K::flags && a.kind != K::rfc822_size;
}

bool sets_seen(const FetchAtt &a)
{
	using K = FetchAtt::Kind;
	return a.kind == K::rfc822 || a.kind == K::rfc822_text || (a.kind == K::body_section && !a.peek);
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
	if (job.cur_fd >= 0)
		return job.file.open(job.cur_fd, m.file_name());
	return job.file.open(AT_FDCWD, mailbox_.path_of(m));
}

void ImapSession::fetch(const ImapCommand &cmd)
{
	std::vector<std::size_t> indexes;
	if (!resolve(cmd, indexes))
		return;
	auto job = std::make_unique<FetchJob>();
	job->cmd = cmd;
	auto &atts = job->cmd.fetch;
	// UID FETCH always reports the UID (RFC 3501 6.4.8), first, where clients look for it.
	if (cmd.uid && std::none_of(atts.begin(), atts.end(), [](const FetchAtt &a) { return a.kind == FetchAtt::Kind::uid; })) {
		FetchAtt uid;
		uid.kind = FetchAtt::Kind::uid;
		atts.insert(atts.begin(), uid);
	}
	job->indexes = std::move(indexes);
	fetch_ = std::move(job);
}

// Builds the reply pieces for the next message; false when there is none left.
bool ImapSession::fetch_next_message()
{
	FetchJob &job = *fetch_;
	job.pieces.clear();
	job.piece = 0;
	job.file.release();
	while (job.next < job.indexes.size()) {
		std::size_t index = job.indexes[job.next++];
		ViewMessage &v = view_[index];
		std::string error;
		auto at = mailbox_.find(v.uid);
		if (!at && mailbox_.refresh(error))
			at = mailbox_.find(v.uid);
		if (v.expunged || !at) {
			job.missing = true;
			continue;
		}
		const auto &atts = job.cmd.fetch;
		bool file_needed = std::any_of(atts.begin(), atts.end(), needs_file);
		if (file_needed && !fetch_open(mailbox_.messages()[*at])) {
			// Renamed by a flag change elsewhere, or expunged: look once more.
			if (errno != ENOENT || !mailbox_.refresh(error) || !(at = mailbox_.find(v.uid)) ||
			    !fetch_open(mailbox_.messages()[*at])) {
				job.missing = true;
				continue;
			}
		}
		const MessageFile &m = mailbox_.messages()[*at];
		bool add_flags = false;
		if (!read_only_ && std::any_of(atts.begin(), atts.end(), sets_seen) &&
		    m.flags.find('S') == std::string::npos) {
			if (mailbox_.set_flags(*at, m.flags + "S", error)) {
				v.letters = mailbox_.messages()[*at].flags;
				add_flags = std::none_of(atts.begin(), atts.end(),
							 [](const FetchAtt &a) { return a.kind == FetchAtt::Kind::flags; });
			} else {
				log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
			}
		}
		std::optional<ImapMessage> parsed;
		if (std::any_of(atts.begin(), atts.end(), needs_parse))
			parsed.emplace(job.file.data());

		std::string text = "* " + std::to_string(index + 1) + " FETCH (";
		bool first = true;
		auto item = [&](std::string_view s) {
			if (!first)
				text += ' ';
			first = false;
			text += s;
		};
		// A literal: its size now, its bytes streamed later.
		auto literal = [&](const std::string &name, std::optional<SectionData> data, const FetchAtt *a) {
			std::uint64_t total = 0;
			// Compares addresses: comparing a `const char *` with a string_view would compare
			// text, after a strlen() that runs off the end of the message.
			if (data && data->is_range && data->range.data() == job.file.data().data() &&
			    data->range.size() == job.file.data().size())
				total = m.vsize; // the whole message: its CRLF size is in the uidlist already
			else if (data)
				total = data->is_range ? crlf_size(data->range) : data->text.size();
			std::uint64_t skip = 0, size = total;
			std::string shown = name;
			if (a && a->partial) {
				skip = std::min(a->origin, total);
				size = std::min(a->count, total - skip);
			}
			item(shown + " {" + std::to_string(size) + "}\r\n");
			if (size == 0)
				return;
			if (data->is_range) {
				job.pieces.push_back({std::move(text), false, {}, 0, 0});
				text.clear();
				job.pieces.push_back({{}, true, data->range, skip, size});
			} else {
				text += data->text.substr(static_cast<std::size_t>(skip), static_cast<std::size_t>(size));
			}
		};
		auto whole = [&]() { return std::optional<SectionData>(SectionData{true, job.file.data(), {}}); };
		for (const auto &a : atts) {
			using K = FetchAtt::Kind;
			switch (a.kind) {
			case K::uid:
				item("UID " + std::to_string(v.uid));
				break;
			case K::flags:
				item("FLAGS (" + flags_of(v) + ")");
				break;
			case K::internaldate:
				item("INTERNALDATE \"" + format_imap_date_time(job.file.mtime()) + "\"");
				break;
			case K::rfc822_size:
				item("RFC822.SIZE " + std::to_string(m.vsize));
				break;
			case K::envelope:
				item("ENVELOPE " + parsed->envelope());
				break;
			case K::body:
				item("BODY " + parsed->bodystructure(false));
				break;
			case K::bodystructure:
				item("BODYSTRUCTURE " + parsed->bodystructure(true));
				break;
			case K::rfc822:
				literal("RFC822", whole(), nullptr);
				break;
			case K::rfc822_header:
				literal("RFC822.HEADER", parsed->section({}, SectionPart::header, {}), nullptr);
				break;
			case K::rfc822_text:
				literal("RFC822.TEXT", parsed->section({}, SectionPart::text, {}), nullptr);
				break;
			case K::body_section:
				literal(a.response_name(),
					parsed ? parsed->section(a.part, section_part(a.text), a.fields) : whole(), &a);
				break;
			}
		}
		if (add_flags)
			item("FLAGS (" + flags_of(v) + ")");
		text += ")\r\n";
		job.pieces.push_back({std::move(text), false, {}, 0, 0});
		job.range_pos = 0;
		job.last_cr = false;
		job.converted = 0;
		return true;
	}
	return false;
}

void ImapSession::produce_fetch()
{
	while (fetch_ && !conn_.closed() && !conn_.output_full()) {
		FetchJob &job = *fetch_;
		if (job.piece >= job.pieces.size()) {
			if (!fetch_next_message())
				fetch_finish();
			continue;
		}
		FetchJob::Piece &p = job.pieces[job.piece];
		if (!p.is_range) {
			conn_.send(p.text);
			job.piece++;
			continue;
		}
		// Convert the next raw chunk straight into the output queue, keep what lies inside
		// [skip, skip + limit).
		std::string_view raw = p.range.substr(job.range_pos, raw_chunk);
		char *out = conn_.send_reserve(2 * raw.size());
		auto produced = static_cast<std::size_t>(copy_crlf(raw, out, job.last_cr) - out);
		job.range_pos += raw.size();
		std::uint64_t from = job.converted, to = job.converted + produced;
		job.converted = to;
		std::uint64_t lo = std::max(from, p.skip), hi = std::min(to, p.skip + p.limit);
		if (lo < hi) {
			if (lo > from) // a partial FETCH starting inside this chunk
				std::memmove(out, out + (lo - from), static_cast<std::size_t>(hi - lo));
			conn_.send_commit(static_cast<std::size_t>(hi - lo));
		}
		if (job.range_pos >= p.range.size() || to >= p.skip + p.limit) {
			std::uint64_t sent = std::min(to, p.skip + p.limit) - std::min(to, p.skip);
			if (sent < p.limit) {
				// The file changed under its recorded size: the literal's length was promised,
				// so it is filled up to keep the client in step with the protocol.
				log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": message shorter than its recorded size");
				conn_.send(std::string(static_cast<std::size_t>(p.limit - sent), ' '));
			}
			job.piece++;
			job.range_pos = 0;
			job.last_cr = false;
			job.converted = 0;
		}
	}
}

void ImapSession::fetch_finish()
{
	auto job = std::move(fetch_);
	if (job->missing) {
		sync(job->cmd.uid);
		tagged(job->cmd.tag, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
		return;
	}
	done_ok(job->cmd, "Fetch completed", job->cmd.uid);
}

} // namespace maild
