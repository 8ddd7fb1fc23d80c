// Reading the store's own list files (uidlist, subscriptions, keywords) the way the store
// promises: never through a symbolic link, only regular files, never more than a bound into memory.
#pragma once

#include <cstddef>
#include <limits>
#include <string>

namespace maild {

// The contents of `path` when it is a regular file reached without following a symlink in its
// last component, at most `limit` bytes (the rest is not read). A missing file reads as empty.
// False with errno (ELOOP for a symlink, EINVAL for a directory or other non-regular file, EFBIG
// when longer than `limit`).
bool read_regular_file(const std::string &path, std::string &out,
		       std::size_t limit = std::numeric_limits<std::size_t>::max());

} // namespace maild
