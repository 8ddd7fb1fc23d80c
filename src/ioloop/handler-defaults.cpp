// The defaults of the optional handler hooks (handler.hpp): "not supported", so the core uses
// its own eventfd for wakeups and its self-pipe for signals. Weak, so that a handler defining a
// hook (handler-kevent.cpp) replaces the default when the library is linked; the compiler does
// not inline a weak function into its callers, so the choice is made by the linker alone.
#include "handler.hpp"

namespace ioloop_handler {

[[gnu::weak]] bool wakeup_init(ioloop &)
{
	return false;
}

[[gnu::weak]] void wakeup(ioloop &) noexcept {}

[[gnu::weak]] bool signal_watch(ioloop &, int)
{
	return false;
}

[[gnu::weak]] void signal_unwatch(ioloop &, int) noexcept {}

[[gnu::weak]] int kqueue_fd(ioloop &) noexcept
{
	return -1;
}

} // namespace ioloop_handler
