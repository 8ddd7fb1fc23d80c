#include "demo.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <unistd.h> // mkdtemp on macOS
#include <vector>

namespace maild {

namespace {

struct Sample {
	const char *text;
	bool lf_only;
};

const Sample samples[] = {
	{"From: Maild Demo <demo@example.org>\n"
	 "To: demo@example.org\n"
	 "Subject: Welcome to maild\n"
	 "Message-ID: <welcome@maild.demo>\n"
	 "\n"
	 "Hello! This message is stored with CRLF line ends.\n"
	 "Fetch the others to see dot-stuffing and LF -> CRLF conversion.\n",
	 false},
	{"From: Dot Tester <dots@example.org>\n"
	 "To: demo@example.org\n"
	 "Subject: Lines that start with a dot\n"
	 "Message-ID: <dots@maild.demo>\n"
	 "\n"
	 "The next lines start with '.': POP3 sends them with an extra '.' (dot-stuffing)\n"
	 "and clients take it off again.\n"
	 ".\n"
	 ".hidden\n"
	 "..two dots\n"
	 "The end.\n",
	 false},
	{"From: Unix Mailer <lf@example.org>\n"
	 "To: demo@example.org\n"
	 "Subject: Stored with LF line ends\n"
	 "Message-ID: <lf@maild.demo>\n"
	 "\n"
	 "This file has bare LF line ends on disk.\n"
	 "maild sends CRLF and LIST reports the size with CRLF.\n",
	 true},
};

} // namespace

bool DemoRoot::create(std::string &error)
{
	std::string tmpl = (std::filesystem::temp_directory_path() / "maild-demo.XXXXXX").string();
	std::vector<char> buf(tmpl.begin(), tmpl.end());
	buf.push_back('\0');
	if (mkdtemp(buf.data()) == nullptr) {
		error = std::string("mkdtemp: ") + std::strerror(errno);
		return false;
	}
	dir_ = buf.data();
	mail_root_ = dir_ + "/mail";
	passwd_file_ = dir_ + "/passwd";
	std::error_code ec;
	std::string inbox = mail_root_ + "/demo";
	for (const char *sub : {"/cur", "/new", "/tmp"})
		std::filesystem::create_directories(inbox + sub, ec);
	if (ec) {
		error = inbox + ": " + ec.message();
		return false;
	}
	std::ofstream(passwd_file_) << "# maild --demo\ndemo:{PLAIN}demo\n";
	auto now = static_cast<long long>(std::time(nullptr));
	int i = 0;
	for (const auto &s : samples) {
		std::string body = s.text;
		if (!s.lf_only) {
			std::string crlf;
			for (char c : body) {
				if (c == '\n')
					crlf += '\r';
				crlf += c;
			}
			body = crlf;
		}
		// As a delivery agent would: into new/, named <seconds>.<unique>.<host>.
		std::string name = std::to_string(now + i) + ".demo" + std::to_string(i) + ".maild";
		std::ofstream(inbox + "/new/" + name, std::ios::binary) << body;
		i++;
	}
	return true;
}

DemoRoot::~DemoRoot()
{
	if (!dir_.empty()) {
		std::error_code ec;
		std::filesystem::remove_all(dir_, ec);
	}
}

std::string DemoRoot::instructions(const std::string &pop3, const std::string &imap) const
{
	std::string text = "maild demo: mail root " + mail_root_ + "\n"
			   "maild demo: user demo, password demo. Try:\n";
	if (!pop3.empty()) {
		std::string u = "pop3://" + pop3;
		text += "  curl -sS -u demo:demo " + u + "/                  # LIST: number and CRLF size\n"
			"  curl -sS -u demo:demo -X UIDL " + u + "/          # stable unique ids\n"
			"  curl -sS -u demo:demo " + u + "/2                 # lines starting with '.'\n"
			"  curl -sS -u demo:demo " + u + "/3 | od -c | head  # stored with LF, sent with CRLF\n"
			"  curl -sS -u demo:demo -X 'TOP 1 0' " + u + "/     # headers only\n"
			"  curl -sS -u demo:demo -X DELE -I " + u + "/1      # delete message 1 at QUIT\n";
	}
	if (!imap.empty()) {
		std::string u = "imap://" + imap;
		text += "  curl -sS -u demo:demo " + u + "/                              # LIST \"\" *\n"
			"  curl -sS -u demo:demo '" + u + "/INBOX?ALL'                    # SEARCH ALL\n"
			"  curl -sS -u demo:demo '" + u + "/INBOX;UID=2'                  # UID FETCH 2 BODY[]\n"
			"  curl -sS -u demo:demo '" + u + "/INBOX;MAILINDEX=1'            # FETCH 1 BODY[]\n"
			"  curl -sS -u demo:demo -X 'UID STORE 1 +FLAGS (\\Deleted)' " + u + "/INBOX\n"
			"  curl -sS -u demo:demo -X EXPUNGE " + u + "/INBOX\n"
			"  curl -sS -u demo:demo -T message.eml " + u + "/INBOX            # APPEND\n";
	}
	return text + "Ctrl-C stops maild and removes the demo directory.\n";
}

} // namespace maild
