// Counts every operator new in the process (the library's too), for the allocation test.
// Its own file, so no caller inlines the pair and mistakes malloc/free for a mismatch.
#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long> allocations{0};
}

long allocation_count()
{
	return allocations.load(std::memory_order_relaxed);
}

void *operator new(std::size_t n)
{
	allocations.fetch_add(1, std::memory_order_relaxed);
	if (void *p = std::malloc(n != 0 ? n : 1))
		return p;
	throw std::bad_alloc();
}

void operator delete(void *p) noexcept
{
	std::free(p);
}

void operator delete(void *p, std::size_t) noexcept
{
	std::free(p);
}
