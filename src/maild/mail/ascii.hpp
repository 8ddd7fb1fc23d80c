// ASCII case moved to base/ (auth needs it too); this name stays for the code that includes it.
#pragma once

#include "base/ascii.hpp"
