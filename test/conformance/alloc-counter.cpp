// Counts every heap allocation in the process (the library's too), for the allocation test.
// Normally by replacing operator new; under AddressSanitizer, which owns operator new, through
// its malloc hook instead, so the test still runs in sanitizer builds.
// Its own file, so no caller inlines the new/delete pair and mistakes malloc/free for a mismatch.
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define IOLOOP_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IOLOOP_ASAN 1
#endif
#endif

namespace {
std::atomic<long> allocations{0};
}

long allocation_count()
{
	return allocations.load(std::memory_order_relaxed);
}

#ifdef IOLOOP_ASAN
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*)(const volatile void *, std::size_t),
							 void (*)(const volatile void *));
namespace {
void on_malloc(const volatile void *, std::size_t)
{
	allocations.fetch_add(1, std::memory_order_relaxed);
}
void on_free(const volatile void *) {}
[[maybe_unused]] const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
} // namespace
#else
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
#endif
