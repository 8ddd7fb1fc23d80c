// What a protocol session needs from the server around it.
#pragma once

#include "auth/passwd-file.hpp"

#include <chrono>
#include <string>

namespace maild {

class SessionHost {
public:
	virtual const PasswdFile &passwd() const = 0;
	virtual const std::string &mail_root() const = 0;
	virtual std::chrono::milliseconds auth_fail_delay() const = 0;
	// One session per user at a time (this process is the only one touching the store).
	virtual bool lock_user(const std::string &user) = 0;
	virtual void unlock_user(const std::string &user) = 0;

protected:
	~SessionHost() = default;
};

} // namespace maild
