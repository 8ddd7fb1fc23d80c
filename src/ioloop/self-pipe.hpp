// A non-blocking, close-on-exec pipe: the signal self-pipe, and the wakeup channel where there
// is no eventfd. pipe2() does it in one call where the system has it (Linux, the BSDs); macOS
// has only pipe(), and the flags are set after (no thread of ours forks in between).
#pragma once

namespace ioloop_detail {

// fds[0] reads, fds[1] writes. False with errno, and nothing left open.
bool open_self_pipe(int fds[2]) noexcept;

} // namespace ioloop_detail
