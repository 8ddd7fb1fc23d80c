#include "imap/imap-thread.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <unordered_map>

namespace maild {

namespace {

constexpr std::uint32_t none = UINT32_MAX;

// The sibling order of RFC 5256: by sent date, then by place in the mailbox. A dummy sorts as
// its first child does.
struct SortKey {
	std::int64_t sent = 0;
	std::uint32_t place = 0;
	bool operator<(const SortKey &o) const { return sent != o.sent ? sent < o.sent : place < o.place; }
};

} // namespace

ThreadForest thread_orderedsubject(const std::vector<ThreadMessage> &messages)
{
	std::vector<std::uint32_t> order(messages.size());
	for (std::uint32_t i = 0; i < order.size(); i++)
		order[i] = i;
	auto key = [&](std::uint32_t i) { return SortKey{messages[i].sent, i}; };
	std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
		int c = messages[a].subject_key.compare(messages[b].subject_key);
		return c != 0 ? c < 0 : key(a) < key(b);
	});
	// Each run of one subject is a thread: its earliest message the parent, the rest its
	// children in date order.
	ThreadForest f;
	f.nodes.resize(messages.size());
	for (std::uint32_t i = 0; i < messages.size(); i++)
		f.nodes[i].id = messages[i].id;
	for (std::size_t k = 0; k < order.size();) {
		std::uint32_t parent = order[k++];
		while (k < order.size() && messages[order[k]].subject_key == messages[parent].subject_key)
			f.nodes[parent].children.push_back(order[k++]);
		f.roots.push_back(parent);
	}
	std::sort(f.roots.begin(), f.roots.end(), [&](std::uint32_t a, std::uint32_t b) { return key(a) < key(b); });
	return f;
}

namespace {

// RFC 5256 4, REFERENCES, steps 1 to 6, over containers: one per message and one per identifier
// referred to (a dummy until a message with it turns up).
class ReferencesThreader {
public:
	ReferencesThreader(const std::vector<ThreadMessage> &messages, bool refs) : messages_(messages), refs_(refs) {}

	ThreadForest run()
	{
		for (std::uint32_t i = 0; i < messages_.size(); i++)
			link_message(i);
		std::vector<std::uint32_t> roots;
		for (std::uint32_t c = 0; c < nodes_.size(); c++) {
			if (nodes_[c].parent == none)
				roots.push_back(c);
		}
		roots = prune(roots);
		if (!refs_)
			roots = merge_by_subject(roots);
		sort_siblings(roots);
		if (refs_)
			sort_by_latest_arrival(roots);
		ThreadForest f;
		f.nodes.resize(nodes_.size());
		for (std::uint32_t c = 0; c < nodes_.size(); c++) {
			f.nodes[c].id = nodes_[c].message == none ? 0 : messages_[nodes_[c].message].id;
			f.nodes[c].children = std::move(nodes_[c].children);
		}
		f.roots = std::move(roots);
		return f;
	}

private:
	struct Container {
		std::uint32_t message = none; // index in messages_, none for a dummy
		std::uint32_t parent = none;
		std::vector<std::uint32_t> children;
		SortKey key; // set by sort_siblings
	};

	std::uint32_t add_container()
	{
		nodes_.emplace_back();
		return static_cast<std::uint32_t>(nodes_.size() - 1);
	}
	std::uint32_t container_for(const std::string &id)
	{
		auto [it, added] = by_id_.try_emplace(id, 0);
		if (added)
			it->second = add_container();
		return it->second;
	}
	// Whether a is b or one of b's ancestors. Only a container with children can be an
	// ancestor, which keeps the walk off the common path (a new message, a new identifier).
	bool is_ancestor(std::uint32_t a, std::uint32_t b) const
	{
		if (a == b)
			return true;
		if (nodes_[a].children.empty())
			return false;
		for (std::uint32_t x = nodes_[b].parent; x != none; x = nodes_[x].parent) {
			if (x == a)
				return true;
		}
		return false;
	}
	void link(std::uint32_t parent, std::uint32_t child)
	{
		nodes_[child].parent = parent;
		nodes_[parent].children.push_back(child);
	}
	void unlink(std::uint32_t child)
	{
		std::uint32_t p = nodes_[child].parent;
		if (p == none)
			return;
		auto &siblings = nodes_[p].children;
		siblings.erase(std::find(siblings.begin(), siblings.end(), child));
		nodes_[child].parent = none;
	}

	// Step 1: the message's own container (a repeated or missing Message-ID gets one nobody
	// can refer to), its references chained parent to child where they are not linked yet,
	// and the last of them made its parent. No link that would close a loop.
	void link_message(std::uint32_t i)
	{
		const ThreadMessage &m = messages_[i];
		std::uint32_t self;
		auto it = m.message_id.empty() ? by_id_.end() : by_id_.find(m.message_id);
		if (it != by_id_.end() && nodes_[it->second].message == none)
			self = it->second;
		else if (it == by_id_.end() && !m.message_id.empty())
			self = container_for(m.message_id);
		else
			self = add_container();
		nodes_[self].message = i;
		std::uint32_t previous = none;
		for (const std::string &ref : m.references) {
			std::uint32_t r = container_for(ref);
			if (previous != none && nodes_[r].parent == none && !is_ancestor(r, previous))
				link(previous, r);
			previous = r;
		}
		// A parent from an earlier, maybe truncated, References is replaced by this message's
		// own word on it; with no references it has none.
		unlink(self);
		if (previous != none && !is_ancestor(self, previous))
			link(previous, self);
	}

	// Every container under `roots`, each after its descendants.
	std::vector<std::uint32_t> post_order(const std::vector<std::uint32_t> &roots) const
	{
		std::vector<std::uint32_t> out, stack(roots.rbegin(), roots.rend());
		while (!stack.empty()) {
			std::uint32_t c = stack.back();
			stack.pop_back();
			out.push_back(c);
			for (std::uint32_t ch : nodes_[c].children)
				stack.push_back(ch);
		}
		std::reverse(out.begin(), out.end());
		return out;
	}

	// Step 4: dummies without children go; below the root a dummy gives way to its children,
	// and at the root only when it has one.
	std::vector<std::uint32_t> prune(const std::vector<std::uint32_t> &roots)
	{
		for (std::uint32_t c : post_order(roots)) {
			std::vector<std::uint32_t> kept;
			for (std::uint32_t ch : nodes_[c].children) {
				if (nodes_[ch].message != none) {
					kept.push_back(ch);
					continue;
				}
				for (std::uint32_t g : nodes_[ch].children) {
					nodes_[g].parent = c;
					kept.push_back(g);
				}
				nodes_[ch].children.clear();
			}
			nodes_[c].children = std::move(kept);
		}
		std::vector<std::uint32_t> out;
		for (std::uint32_t r : roots) {
			const Container &c = nodes_[r];
			if (c.message != none || c.children.size() > 1)
				out.push_back(r);
			else if (c.children.size() == 1)
				out.push_back(c.children.front());
		}
		for (std::uint32_t r : out)
			nodes_[r].parent = none;
		return out;
	}

	const ThreadMessage *message_of(std::uint32_t c) const
	{
		return nodes_[c].message == none ? nullptr : &messages_[nodes_[c].message];
	}
	// The thread subject of a root: its message's, or a dummy's first child's.
	std::string_view subject_of(std::uint32_t c) const
	{
		if (const ThreadMessage *m = message_of(c))
			return m->subject_key;
		const auto &children = nodes_[c].children;
		const ThreadMessage *first = children.empty() ? nullptr : message_of(children.front());
		return first ? std::string_view(first->subject_key) : std::string_view();
	}
	bool reply(std::uint32_t c) const
	{
		const ThreadMessage *m = message_of(c);
		return m && m->reply_or_forward;
	}

	// Step 5: roots with one base subject become one thread.
	std::vector<std::uint32_t> merge_by_subject(std::vector<std::uint32_t> roots)
	{
		// B: per subject, a dummy if there is one, else a message that is not a reply if
		// there is one, else the first.
		std::unordered_map<std::string_view, std::uint32_t> table;
		for (std::uint32_t r : roots) {
			std::string_view s = subject_of(r);
			if (s.empty())
				continue;
			auto [it, added] = table.try_emplace(s, r);
			std::uint32_t t = it->second;
			if (!added && message_of(t) && (!message_of(r) || (reply(t) && !reply(r))))
				it->second = r;
		}
		// C: merge each other root of a subject into the table's.
		std::unordered_map<std::uint32_t, std::size_t> place;
		for (std::size_t k = 0; k < roots.size(); k++)
			place[roots[k]] = k;
		for (std::size_t k = 0; k < roots.size(); k++) {
			std::uint32_t r = roots[k];
			if (r == none)
				continue;
			std::string_view s = subject_of(r);
			if (s.empty())
				continue;
			auto it = table.find(s);
			std::uint32_t t = it->second;
			if (t == r)
				continue;
			if (!message_of(t) && !message_of(r)) {
				for (std::uint32_t ch : nodes_[r].children)
					link(t, ch);
				nodes_[r].children.clear();
			} else if (!message_of(t) || (reply(r) && !reply(t))) {
				link(t, r);
			} else {
				std::uint32_t dummy = add_container();
				link(dummy, t);
				link(dummy, r);
				roots[place[t]] = dummy;
				place[dummy] = place[t];
				// The key is a view of a message's subject, which outlives the table.
				it->second = dummy;
			}
			roots[k] = none;
		}
		roots.erase(std::remove(roots.begin(), roots.end(), none), roots.end());
		return roots;
	}

	// Step 6: every set of siblings by sent date, the deepest first, so a dummy can sort as
	// its (already sorted) first child.
	void sort_siblings(std::vector<std::uint32_t> &roots)
	{
		auto by_key = [&](std::uint32_t a, std::uint32_t b) { return nodes_[a].key < nodes_[b].key; };
		for (std::uint32_t c : post_order(roots)) {
			Container &n = nodes_[c];
			std::sort(n.children.begin(), n.children.end(), by_key);
			if (n.message != none)
				n.key = {messages_[n.message].sent, n.message};
			else if (!n.children.empty())
				n.key = nodes_[n.children.front()].key;
		}
		std::sort(roots.begin(), roots.end(), by_key);
	}

	// REFS: the roots by the latest arrival below each (a dummy root has none of its own), ties
	// by that message's place.
	void sort_by_latest_arrival(std::vector<std::uint32_t> &roots)
	{
		std::vector<SortKey> latest(roots.size(), SortKey{INT64_MIN, 0});
		for (std::size_t k = 0; k < roots.size(); k++) {
			for (std::uint32_t c : post_order({roots[k]})) {
				std::uint32_t m = nodes_[c].message;
				if (m != none && latest[k] < SortKey{messages_[m].arrival, m})
					latest[k] = {messages_[m].arrival, m};
			}
		}
		std::vector<std::size_t> order(roots.size());
		for (std::size_t k = 0; k < order.size(); k++)
			order[k] = k;
		std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return latest[a] < latest[b]; });
		std::vector<std::uint32_t> sorted;
		sorted.reserve(roots.size());
		for (std::size_t k : order)
			sorted.push_back(roots[k]);
		roots = std::move(sorted);
	}

	const std::vector<ThreadMessage> &messages_;
	bool refs_ = false;
	std::vector<Container> nodes_;
	std::unordered_map<std::string, std::uint32_t> by_id_;
};

} // namespace

ThreadForest thread_references(const std::vector<ThreadMessage> &messages)
{
	return ReferencesThreader(messages, false).run();
}

ThreadForest thread_refs(const std::vector<ThreadMessage> &messages)
{
	return ReferencesThreader(messages, true).run();
}

std::string ThreadForest::format() const
{
	std::string out;
	// An explicit stack of what is still to write: a node, or one of ' ', '(' and ')'.
	struct Item {
		std::uint32_t node;
		char text;
	};
	std::vector<Item> stack;
	auto push_nested = [&](const Node &n) {
		for (auto it = n.children.rbegin(); it != n.children.rend(); ++it) {
			stack.push_back({0, ')'});
			stack.push_back({*it, 0});
			stack.push_back({0, '('});
		}
	};
	for (std::uint32_t r : roots) {
		stack.push_back({0, ')'});
		stack.push_back({r, 0});
		out += '(';
		while (!stack.empty()) {
			Item item = stack.back();
			stack.pop_back();
			if (item.text) {
				out += item.text;
				continue;
			}
			const Node &n = nodes[item.node];
			if (n.id == 0) {
				push_nested(n);
				continue;
			}
			out += std::to_string(n.id);
			if (n.children.size() == 1)
				stack.push_back({n.children.front(), 0});
			else
				push_nested(n);
			if (!n.children.empty())
				stack.push_back({0, ' '});
		}
	}
	return out;
}

} // namespace maild
