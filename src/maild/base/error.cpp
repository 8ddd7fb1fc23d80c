#include "base/error.hpp"

#include <cerrno>
#include <cstring>

namespace maild {

std::string errno_text(std::string_view what)
{
	int e = errno;
	std::string text(what);
	text += ": ";
	text += std::strerror(e);
	errno = e;
	return text;
}

} // namespace maild
