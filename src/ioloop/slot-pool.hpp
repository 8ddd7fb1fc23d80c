// The pool a loop's timeouts are carved from (TimeoutHeap::slots).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

// With AddressSanitizer, free slots are poisoned, so a timeout used after it was freed is still
// reported although its memory stays in the pool. Without, the macros do nothing.
#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

namespace ioloop_detail {

// Where a loop's timeouts live: 48-byte slots in 4 KiB pages, each of which has a 64-byte head
// naming the pool's owner (the loop), so that a timeout needs no field of its own for its loop
// (owner_of). 48 bytes, as an ev_timer: with 100,000 timeouts, a random one is reached through
// fewer cache misses than with 64-byte slots, since all of them take a quarter less memory
// (doc/performance.md, "The timeout queue's measured choices"). A head is not at the same place
// in every page: heads at one offset of 4 KiB-aligned pages would all fall in one set of the
// caches and evict each other, so the page's number picks one of its 64 lines for the head.
// (64 KiB pages, 16 times fewer heads, measured more page faults in timeout_add, the blocks
// being aligned to 64 KiB.) Taking or returning a slot is a few instructions where malloc and
// free were a large part of timeout_add. Pages come in blocks that grow to 64 pages (256 KiB)
// and are not returned to the system before the loop goes: a loop keeps the memory of the most
// timeouts it had at once.
class SlotPool {
public:
	static constexpr std::size_t slot_size = 48;
	static constexpr std::size_t page_size = 4096;
	SlotPool() = default;
	SlotPool(const SlotPool &) = delete;
	SlotPool &operator=(const SlotPool &) = delete;
	~SlotPool()
	{
		while (char *b = blocks_) {
			Head *h = head_of(b);
			blocks_ = h->next_block;
			ASAN_UNPOISON_MEMORY_REGION(b, h->block_bytes);
			::operator delete(h->allocation);
		}
	}
	// The owner given to get() when the slot's page was made.
	static void *owner_of(const void *slot) { return head_of(slot)->owner; }
	// Throws bad_alloc. Before the pool allocates a block, it calls before_growing(n), which may
	// throw, n being at least the slots it will hold then (capacity_after_growth).
	template <class BeforeGrowing> void *get(void *owner, BeforeGrowing before_growing)
	{
		if (void *p = try_take())
			return p;
		if (!next_fresh()) {
			before_growing(capacity_after_growth());
			add_block(owner);
		}
		return try_take();
	}
	// A slot if one can be had without allocating and without moving to the next page or past a
	// page's head, else null (get() then).
	void *try_take()
	{
		void *p;
		if (Free *f = free_) { // the most recently freed: likely still in the cache
			ASAN_UNPOISON_MEMORY_REGION(f, slot_size);
			free_ = f->next;
			p = f;
		} else if (room()) {
			// Page heads and ends are stepped over by next_fresh(), on get()'s way: kept out of
			// here, their code took registers that timeout_add saved and restored on every
			// call (callgrind).
			p = fresh_;
			fresh_ += slot_size;
			ASAN_UNPOISON_MEMORY_REGION(p, slot_size);
			// A fresh slot has not been used for long (or ever): fetch the ones
			// coming next while this one is written (measured: doc/performance.md).
			__builtin_prefetch(fresh_ + 4 * slot_size, 1);
		} else {
			return nullptr;
		}
		return p;
	}
	// At least as many slots as the pool will hold once get() has next allocated: the most
	// timeouts that can exist until then (TimeoutHeap::new_slot keeps heap room for them).
	std::size_t capacity_after_growth() const
	{
		return (held_bytes_ + next_block_pages_ * page_size) / slot_size;
	}
	void put(void *p)
	{
		auto *f = static_cast<Free *>(p);
		f->next = free_;
		free_ = f;
		ASAN_POISON_MEMORY_REGION(p, slot_size);
	}

private:
	static constexpr std::size_t line = 64;
	// lines a head may take: as many as an L1 cache has sets (4 KiB of 64-byte lines)
	static constexpr std::size_t head_places = 64;
	struct Free {
		Free *next;
	};
	// A page's head; the block's fields only in its first page.
	struct Head {
		void *owner;
		char *next_block;
		std::size_t block_bytes;
		void *allocation; // what operator new gave for the block
	};
	static_assert(sizeof(Head) <= line);
	static Head *head_of(const void *p)
	{
		auto page = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t(page_size - 1);
		return reinterpret_cast<Head *>(page + (page / page_size % head_places) * line);
	}
	bool room() const { return fresh_stop_ - fresh_ >= std::ptrdiff_t(slot_size); }
	// Whether the pool's blocks have a next segment of fresh slots; if so, moves to it.
	[[gnu::noinline]] bool next_fresh()
	{
		if (page_ != nullptr)
			next_segment();
		return room();
	}
	// The slots are [page, head) and [head + line, page end): moves fresh_ to the next of these
	// that has room for a slot, or to fresh_end_.
	void write_head(char *page)
	{
		Head *h = head_of(page);
		ASAN_UNPOISON_MEMORY_REGION(h, line);
		*h = Head{owner_, nullptr, 0, nullptr};
	}
	void next_segment()
	{
		for (;;) {
			char *head = reinterpret_cast<char *>(head_of(page_));
			if (fresh_stop_ == head) {
				fresh_ = head + line;
				fresh_stop_ = page_ + page_size;
			} else {
				page_ += page_size;
				if (page_ >= fresh_end_) {
					fresh_ = fresh_stop_ = fresh_end_;
					return;
				}
				fresh_ = page_;
				fresh_stop_ = reinterpret_cast<char *>(head_of(page_));
				write_head(page_);
			}
			if (fresh_ + slot_size <= fresh_stop_)
				return;
		}
	}
	void add_block(void *owner)
	{
		// One page, then twice as many each time up to 64 (256 KiB blocks). Handed out by
		// bumping a pointer, so a slot is first written when it is used.
		std::size_t pages = next_block_pages_;
		std::size_t bytes = pages * page_size;
		// Aligned by hand in up to a page more, not by an aligned operator new: glibc's
		// memalign splits the chunks around the aligned one, and a fresh loop's pool then
		// landed in new memory, page faults inside timeout_add (bench-timers --n=1000: 297
		// faults a run, 258 so, 238 with the old 64-byte slots; add 16.0 -> 14.8 ns a call).
		void *allocation = ::operator new(bytes + page_size - 1);
		char *mem = reinterpret_cast<char *>((reinterpret_cast<std::uintptr_t>(allocation) + page_size - 1) &
						     ~std::uintptr_t(page_size - 1));
		held_bytes_ += bytes;
		if (next_block_pages_ < 64)
			next_block_pages_ *= 2;
		ASAN_POISON_MEMORY_REGION(mem, bytes); // the slots; not the heads, which owner_of reads
		// A page's head is written when its first slot is handed out (next_segment): writing
		// them all here faulted in pages a loop may never use, inside timeout_add (bench-timers,
		// N=1000: 6-7 page faults a round more than slots that are first written when used).
		owner_ = owner;
		write_head(mem);
		Head *first = head_of(mem);
		first->next_block = blocks_;
		first->block_bytes = bytes;
		first->allocation = allocation;
		blocks_ = mem;
		page_ = mem;
		fresh_ = mem;
		fresh_stop_ = reinterpret_cast<char *>(first);
		fresh_end_ = mem + bytes;
		if (fresh_ + slot_size > fresh_stop_)
			next_segment();
	}
	Free *free_ = nullptr;
	void *owner_ = nullptr;
	// Fresh slots: from fresh_ to fresh_stop_ in page_, and the pages after it to fresh_end_.
	char *fresh_ = nullptr, *fresh_stop_ = nullptr, *fresh_end_ = nullptr, *page_ = nullptr;
	char *blocks_ = nullptr;
	std::size_t next_block_pages_ = 1, held_bytes_ = 0;
};

} // namespace ioloop_detail
