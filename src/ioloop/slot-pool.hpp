// The pool a loop's timeouts are carved from (TimeoutHeap::slots).
#pragma once

#include <cstddef>
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

// Where a loop's timeouts live: line-sized, line-aligned slots carved from blocks that
// grow geometrically and are freed with the loop. Taking or returning a slot is a few
// instructions where malloc and free were a large part of timeout_add (figures in
// doc/performance.md, "The timeout queue's measured choices"), and a timeout is exactly one
// cache line. A block is not returned to the system before the loop
// goes: a loop keeps the memory of the most timeouts it had at once, 64 bytes each.
class SlotPool {
public:
	static constexpr std::size_t slot_size = 64;
	SlotPool() = default;
	SlotPool(const SlotPool &) = delete;
	SlotPool &operator=(const SlotPool &) = delete;
	~SlotPool()
	{
		while (Block *b = blocks_) {
			blocks_ = b->next;
			ASAN_UNPOISON_MEMORY_REGION(b, b->bytes);
			::operator delete(b, std::align_val_t{slot_size});
		}
	}
	// A slot can be taken without allocating (take_ready).
	bool ready() const { return free_ != nullptr || fresh_ != fresh_end_; }
	// Throws bad_alloc.
	void *get()
	{
		if (!ready())
			add_block();
		return take_ready();
	}
	void *take_ready()
	{
		void *p;
		if (Free *f = free_) { // the most recently freed: likely still in the cache
			ASAN_UNPOISON_MEMORY_REGION(f, slot_size);
			free_ = f->next;
			p = f;
		} else {
			p = fresh_;
			fresh_ += slot_size;
			ASAN_UNPOISON_MEMORY_REGION(p, slot_size);
			// A fresh slot has not been used for long (or ever): fetch the ones
			// coming next while this one is written (measured: doc/performance.md).
			__builtin_prefetch(fresh_ + 4 * slot_size, 1);
		}
		in_use_++;
		return p;
	}
	std::size_t in_use() const { return in_use_; }
	void put(void *p)
	{
		auto *f = static_cast<Free *>(p);
		f->next = free_;
		free_ = f;
		in_use_--;
		ASAN_POISON_MEMORY_REGION(p, slot_size);
	}

private:
	struct Free {
		Free *next;
	};
	struct Block { // in the block's first slot
		Block *next;
		std::size_t bytes;
	};
	void add_block()
	{
		// 15 slots, then twice as many each time up to 4095 (256 KiB blocks). Handed out
		// by bumping a pointer, so a slot is first written when it is used.
		std::size_t n = next_block_slots_;
		void *mem = ::operator new(n * slot_size, std::align_val_t{slot_size});
		if (next_block_slots_ < 4096)
			next_block_slots_ *= 2;
		auto *b = static_cast<Block *>(mem);
		b->next = blocks_;
		b->bytes = n * slot_size;
		blocks_ = b;
		fresh_ = static_cast<char *>(mem) + slot_size;
		fresh_end_ = static_cast<char *>(mem) + n * slot_size;
		ASAN_POISON_MEMORY_REGION(fresh_, std::size_t(fresh_end_ - fresh_));
	}
	Free *free_ = nullptr;
	char *fresh_ = nullptr, *fresh_end_ = nullptr;
	Block *blocks_ = nullptr;
	std::size_t next_block_slots_ = 16, in_use_ = 0;
};

} // namespace ioloop_detail
