// SASL PLAIN (RFC 4616): base64("authzid\0authcid\0password").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace maild {

// Strict RFC 4648 base64 with padding; nothing for anything else.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view data);

struct SaslPlain {
	std::string user;
	std::string password;
};

// Decoded message -> credentials. An authzid is accepted only when empty or equal to the user
// (no proxy logins); NUL-free fields, non-empty user and password.
std::optional<SaslPlain> parse_sasl_plain(std::string_view decoded);

} // namespace maild
