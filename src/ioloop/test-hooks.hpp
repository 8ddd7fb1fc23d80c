// Hooks for the conformance suite only; not installed.
#pragma once

#include <cstdint>

namespace ioloop_detail {
// Shifts the wall clock the loop reads, as a settimeofday() would, without needing privileges.
// The monotonic clock that drives timeouts is untouched, which is what the suite proves.
void set_wall_clock_offset_for_tests(std::int64_t offset_us);
} // namespace ioloop_detail
