// maild's error convention; every layer follows it.
//
// - An operation that can fail returns bool, true on success. When its caller reports the failure
//   to a person (log line, protocol reply), it takes a `std::string &error` last and fills it with
//   a sentence naming what failed: errno_text(path) for a failed system call.
// - errno stays as the failing call left it, for callers that branch on the kind (ENOENT: expunged
//   meanwhile, ENOSPC: quota, EFBIG: over a bound). Cleanup on the way out never changes it:
//   Fd::reset() keeps errno. Where the caller has only errno to go on, the header says which values
//   it may see.
// - A pure parser whose only failure is "no value here" returns std::optional. A protocol command
//   parser reports a fixed reply text as `const char *error` in the command (static storage, null
//   when the command is fine), since that text goes into the reply as it is.
// - A wrapper that hands out a descriptor keeps the system call's shape: -1 with errno (and
//   `error` when it has one); read_full() returns a count or -1 like read().
// - No other sentinels (-2, '\0' for "failed", empty strings), no exceptions across a layer.
#pragma once

#include <string>
#include <string_view>

namespace maild {

// "<what>: <strerror(errno)>", errno unchanged.
std::string errno_text(std::string_view what);

} // namespace maild
