#include "imap/imap-sort.hpp"

#include "base/ascii.hpp"
#include "mail/address.hpp"
#include "mail/date.hpp"
#include "mail/encoded-word.hpp"
#include "mail/header.hpp"
#include "mail/message-id.hpp"
#include "mail/subject.hpp"

#include <algorithm>
#include <optional>

namespace maild {

namespace {

struct FirstAddress {
	std::string mailbox;
	std::string display; // RFC 5957's key, before case mapping
};

// The first real address of a list (group markers, which have no host, are passed over).
FirstAddress first_address(std::optional<std::string_view> value)
{
	FirstAddress out;
	if (!value)
		return out;
	bool found = false;
	parse_address_list(*value, [&](const MailAddress &a) {
		if (found || !a.host)
			return;
		found = true;
		out.mailbox = a.mailbox.value_or("");
		std::string name = a.name ? decode_encoded_words(*a.name) : std::string();
		if (!name.empty())
			out.display = std::move(name);
		else
			out.display = out.mailbox + (a.host->empty() ? "" : "@" + *a.host);
	});
	return out;
}

} // namespace

std::size_t SortFields::footprint() const
{
	std::size_t n = sizeof(SortFields) + subject.capacity() + from.capacity() + to.capacity() + cc.capacity() +
			display_from.capacity() + display_to.capacity() + message_id.capacity();
	for (const auto &r : references)
		n += sizeof(r) + r.capacity();
	return n;
}

SortFields sort_fields(std::string_view header, std::int64_t internal_date, std::uint64_t size)
{
	SortFields f;
	f.arrival = internal_date;
	f.sent = internal_date;
	f.size = size;
	std::optional<std::string_view> subject, from, to, cc, date, message_id, references, in_reply_to;
	// One pass; the first of a repeated field counts, as ENVELOPE takes it.
	for_each_field(header, [&](const HeaderField &field) {
		struct Wanted {
			std::string_view name;
			std::optional<std::string_view> &value;
		};
		Wanted wanted[] = {{"subject", subject}, {"from", from},	     {"to", to},
				   {"cc", cc},		 {"date", date},	     {"message-id", message_id},
				   {"references", references}, {"in-reply-to", in_reply_to}};
		for (Wanted &w : wanted) {
			if (!w.value && equal_nocase(field.name, w.name))
				w.value = field.value;
		}
		return true;
	});
	if (date) {
		if (auto d = parse_message_date(unfold(*date)))
			f.sent = d->unix_time;
	}
	BaseSubject base = base_subject(subject.value_or(""));
	f.subject = upper_ascii(base.text);
	f.reply_or_forward = base.reply_or_forward;
	FirstAddress first_from = first_address(from), first_to = first_address(to);
	f.from = upper_ascii(first_from.mailbox);
	f.to = upper_ascii(first_to.mailbox);
	f.cc = upper_ascii(first_address(cc).mailbox);
	f.display_from = upper_ascii(first_from.display);
	f.display_to = upper_ascii(first_to.display);
	if (message_id) {
		auto ids = message_ids(*message_id);
		if (!ids.empty())
			f.message_id = std::move(ids.front());
	}
	// RFC 5256 4 step 1.A: References, or else the first identifier of In-Reply-To.
	if (references)
		f.references = message_ids(*references);
	if (f.references.empty() && in_reply_to) {
		auto ids = message_ids(*in_reply_to);
		if (!ids.empty())
			f.references.push_back(std::move(ids.front()));
	}
	return f;
}

namespace {

int compare(const SortFields &a, const SortFields &b, SortKind kind)
{
	auto three_way = [](const auto &x, const auto &y) { return x < y ? -1 : y < x ? 1 : 0; };
	switch (kind) {
	case SortKind::arrival: return three_way(a.arrival, b.arrival);
	case SortKind::cc: return a.cc.compare(b.cc);
	case SortKind::date: return three_way(a.sent, b.sent);
	case SortKind::from: return a.from.compare(b.from);
	case SortKind::size: return three_way(a.size, b.size);
	case SortKind::subject: return a.subject.compare(b.subject);
	case SortKind::to: return a.to.compare(b.to);
	case SortKind::display_from: return a.display_from.compare(b.display_from);
	case SortKind::display_to: return a.display_to.compare(b.display_to);
	}
	return 0;
}

} // namespace

std::vector<std::size_t> sort_order(const std::vector<const SortFields *> &messages, const std::vector<SortCriterion> &criteria)
{
	std::vector<std::size_t> order(messages.size());
	for (std::size_t i = 0; i < order.size(); i++)
		order[i] = i;
	std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
		return sort_before(*messages[x], static_cast<std::uint32_t>(x), *messages[y], static_cast<std::uint32_t>(y), criteria);
	});
	return order;
}

bool sort_before(const SortFields &a, std::uint32_t place_a, const SortFields &b, std::uint32_t place_b,
		 const std::vector<SortCriterion> &criteria)
{
	for (const SortCriterion &c : criteria) {
		int r = compare(a, b, c.kind);
		if (r != 0)
			return c.reverse ? r > 0 : r < 0;
	}
	return place_a < place_b;
}

ThreadMessage thread_message(const SortFields &f, std::uint32_t id)
{
	ThreadMessage m;
	m.id = id;
	m.message_id = f.message_id;
	m.references = f.references;
	m.subject_key = f.subject;
	m.reply_or_forward = f.reply_or_forward;
	m.sent = f.sent;
	m.arrival = f.arrival;
	return m;
}

} // namespace maild
