"""IMAP FETCH: whole messages by sequence number and by UID, byte-exact (CRLF; the LF-stored and
no-final-newline samples too); header, text and header-field sections; partial fetches; upper-case
item names and UID in every UID FETCH reply; \\Seen set by BODY[] but not BODY.PEEK[]; ENVELOPE,
BODYSTRUCTURE and BODY[1]/BODY[2] of a multipart sample; sequence sets; curl fetches."""
import re
import shutil
import sys

from maildtest import (SAMPLES, Maild, Root, check, crlf, curl, fetches, flags_of, header_of, mailbox_dir,
                       message_files, text, text_of, time_limit, uids)

exe = sys.argv[1]
time_limit(55)

BOUNDARY = b"=-=next part=-="
MULTI = (b"From: Multi Part <m@example.org>\n"
         b"To: alice@example.org, Bob <bob@example.net>\n"
         b"Subject: multipart\n"
         b"Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
         b"Message-ID: <multi@test>\n"
         b"MIME-Version: 1.0\n"
         b'Content-Type: multipart/mixed; boundary="' + BOUNDARY + b'"\n'
         b"\n"
         b"This is the preamble.\n"
         b"--" + BOUNDARY + b"\n"
         b"Content-Type: text/plain; charset=us-ascii\n"
         b"\n"
         b"Part one, first line.\n"
         b".a line with a leading dot\n"
         b"\n"
         b"--" + BOUNDARY + b"\n"
         b"Content-Type: application/octet-stream; name=blob.bin\n"
         b"Content-Transfer-Encoding: base64\n"
         b"\n"
         b"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
         b"--" + BOUNDARY + b"--\n"
         b"Epilogue.\n")


def mime_parts(data):
    """[(MIME header, body)] of a one-level multipart message, CRLF form, as RFC 3501 cuts them:
    the CRLF before a boundary line belongs to the boundary."""
    body = text_of(data)
    delim = b"\r\n--" + BOUNDARY
    chunks = (b"\r\n" + body).split(delim)[1:-1]  # drop the preamble and the closing part
    out = []
    for c in chunks:
        c = c[c.index(b"\r\n") + 2:]  # the rest of the boundary line
        head, _, part_body = c.partition(b"\r\n\r\n")
        out.append((head + b"\r\n\r\n", part_body))
    return out


with Root() as root:
    root.deliver_samples("alice")
    multi_base = "1700000005.M5P5.multi"
    root.deliver("alice", multi_base, MULTI, "new")
    messages = [data for _, data in SAMPLES] + [MULTI]
    bases = [b for b, _ in SAMPLES] + [multi_base]
    inbox = mailbox_dir(root, "alice")
    with Maild(exe, root, imap=True) as m:
        r = m.iraw("alice")
        r.ok("SELECT INBOX")
        all_uids = uids(r)
        check(len(all_uids) == len(messages), "%d messages" % len(messages))
        names_before = message_files(inbox)

        # Whole messages, by sequence number and by UID; the sizes match the bytes.
        f = fetches(r.ok("FETCH 1:* (BODY.PEEK[] RFC822.SIZE)"))
        for i, data in enumerate(messages, 1):
            check(f[i]["BODY[]"] == crlf(data), "FETCH %d BODY.PEEK[] is byte-exact (CRLF form)" % i)
            check(f[i]["RFC822.SIZE"] == str(len(crlf(data))), "FETCH %d RFC822.SIZE is %d" % (i, len(crlf(data))))
        for i, (uid, data) in enumerate(zip(all_uids, messages), 1):
            untagged = r.ok("UID FETCH %d (BODY.PEEK[])" % uid)
            got = fetches(untagged)
            check(list(got) == [i] and got[i].get("UID") == str(uid) and got[i]["BODY[]"] == crlf(data),
                  "UID FETCH %d BODY.PEEK[] is message %d, byte-exact, with UID" % (uid, i))
        got = fetches(r.ok("UID FETCH %d:%d FLAGS" % (all_uids[0], all_uids[-1])))
        check(sorted(got) == list(range(1, len(messages) + 1)) and all(got[i].get("UID") == str(u) for i, u in
                                                                          zip(got, all_uids)),
              "UID FETCH of a range without UID asked: every reply carries UID")
        check(message_files(inbox) == names_before, "BODY.PEEK[] and FLAGS set no flag")

        # Sections; item names come back upper-case whatever case was asked.
        for i, data in enumerate(messages, 1):
            f = fetches(r.ok("fetch %d (body.peek[header] body.peek[text] rfc822.header)" % i))[i]
            check(f.get("BODY[HEADER]") == header_of(data), "BODY[HEADER] of %d (asked lower-case)" % i)
            check(f.get("BODY[TEXT]") == text_of(data), "BODY[TEXT] of %d" % i)
            check(f.get("RFC822.HEADER") == header_of(data), "RFC822.HEADER of %d" % i)
        mid = [l for l in crlf(SAMPLES[2][1]).split(b"\r\n") if l.lower().startswith(b"message-id:")][0]
        f = fetches(r.ok("FETCH 3 (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"))[3]
        key = [k for k in f if k.startswith("BODY[HEADER.FIELDS")]
        check(key and key[0] == key[0].upper() and f[key[0]] == mid + b"\r\n\r\n",
              "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] (what mbsync asks): %r" % f)

        # Partial fetches.
        whole = crlf(SAMPLES[0][1])
        f = fetches(r.ok("FETCH 1 (BODY.PEEK[]<0.10>)"))[1]
        check(f.get("BODY[]<0>") == whole[:10], "BODY.PEEK[]<0.10> is the first 10 bytes, as BODY[]<0>: %r" % f)
        f = fetches(r.ok("FETCH 1 (BODY.PEEK[]<10.25>)"))[1]
        check(f.get("BODY[]<10>") == whole[10:35], "BODY.PEEK[]<10.25>")
        f = fetches(r.ok("FETCH 1 (BODY.PEEK[]<%d.100>)" % (len(whole) - 5)))[1]
        check(f.get("BODY[]<%d>" % (len(whole) - 5)) == whole[-5:], "a partial fetch over the end is cut short")
        f = fetches(r.ok("FETCH 1 (BODY.PEEK[]<%d.10>)" % (len(whole) + 100)))[1]
        check(f.get("BODY[]<%d>" % (len(whole) + 100)) == b"", "a partial fetch past the end is empty")
        f = fetches(r.ok("FETCH 4 (BODY.PEEK[TEXT]<5.8>)"))[4]
        check(f.get("BODY[TEXT]<5>") == text_of(SAMPLES[3][1])[5:13], "BODY.PEEK[TEXT]<5.8>")

        # Sequence sets.
        n = len(messages)
        for spec, want in [("2:*", range(2, n + 1)), ("*", [n]), ("1,3", [1, 3]), ("3:2", [2, 3]),
                           ("1:2,4:*", [1, 2] + list(range(4, n + 1)))]:
            check(sorted(fetches(r.ok("FETCH %s (UID)" % spec))) == list(want), "FETCH %s answers %s" % (spec, list(want)))
        check(fetches(r.ok("UID FETCH %d:* (FLAGS)" % (all_uids[-1] + 1)))[n]["UID"] == str(all_uids[-1]),
              "UID FETCH above the highest UID with * still answers the last message (RFC 3501 n:*)")
        check(fetches(r.ok("UID FETCH %d (FLAGS)" % (all_uids[-1] + 50))) == {}, "UID FETCH of a missing UID: OK, no reply")
        check(r.cmd("FETCH %d (FLAGS)" % (n + 1))[1].split(b" ")[0] in (b"BAD", b"NO"), "FETCH past EXISTS fails")
        check(r.cmd("FETCH 1 (BOGUS)")[1].startswith(b"BAD"), "FETCH of an unknown item gets BAD")

        # Macros and INTERNALDATE.
        f = fetches(r.ok("FETCH 2 FAST"))[2]
        check({"FLAGS", "INTERNALDATE", "RFC822.SIZE"} <= set(f) and
              re.fullmatch(r"[ 0-9]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}", text(f["INTERNALDATE"])),
              "FETCH FAST: FLAGS INTERNALDATE RFC822.SIZE: %r" % f)
        f = fetches(r.ok("FETCH 2 ALL"))[2]
        check({"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"} <= set(f), "FETCH ALL adds ENVELOPE")

        # ENVELOPE of a plain sample: no Date, sender and reply-to default to From.
        env = fetches(r.ok("FETCH 1 ENVELOPE"))[1]["ENVELOPE"]
        check(env[0] is None and env[1] == b"one" and env[2] == [[None, None, b"a", b"example.org"]]
              and env[3] == env[2] and env[4] == env[2] and env[5] == [[None, None, b"alice", b"example.org"]]
              and env[6] is None and env[7] is None and env[8] is None and env[9] == b"<one@test>",
              "ENVELOPE of message 1: %r" % env)

        # The multipart sample: ENVELOPE, BODYSTRUCTURE, parts by number.
        mi = len(messages)
        parts = mime_parts(MULTI)
        check(len(parts) == 2, "the multipart sample has two parts (test data)")
        f = fetches(r.ok("FETCH %d (ENVELOPE BODYSTRUCTURE)" % mi))[mi]
        env = f["ENVELOPE"]
        check(env[0] == b"Tue, 14 Nov 2023 22:13:20 +0000" and env[1] == b"multipart"
              and env[2] == [[b"Multi Part", None, b"m", b"example.org"]]
              and env[5] == [[None, None, b"alice", b"example.org"], [b"Bob", None, b"bob", b"example.net"]]
              and env[9] == b"<multi@test>", "ENVELOPE of the multipart sample: %r" % env)
        bs = f["BODYSTRUCTURE"]
        check(isinstance(bs[0], list) and isinstance(bs[1], list) and text(bs[2]).upper() == "MIXED",
              "BODYSTRUCTURE is multipart/mixed with two parts: %r" % bs)
        p1, p2 = bs[0], bs[1]
        check(text(p1[0]).upper() == "TEXT" and text(p1[1]).upper() == "PLAIN"
              and [text(x).upper() for x in p1[2]] == ["CHARSET", "US-ASCII"]
              and text(p1[5]).upper() == "7BIT" and int(p1[6]) == len(parts[0][1])
              and int(p1[7]) in (parts[0][1].count(b"\r\n"), parts[0][1].count(b"\r\n") + 1),
              "part 1: text/plain us-ascii 7bit, %d bytes: %r" % (len(parts[0][1]), p1))
        check(text(p2[0]).upper() == "APPLICATION" and text(p2[1]).upper() == "OCTET-STREAM"
              and text(p2[5]).upper() == "BASE64" and int(p2[6]) == len(parts[1][1]),
              "part 2: application/octet-stream base64, %d bytes: %r" % (len(parts[1][1]), p2))
        f = fetches(r.ok("FETCH %d (BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[1.MIME])" % mi))[mi]
        check(f.get("BODY[1]") == parts[0][1], "BODY[1] is part 1's bytes: %r" % f.get("BODY[1]"))
        check(f.get("BODY[2]") == parts[1][1], "BODY[2] is part 2's bytes: %r" % f.get("BODY[2]"))
        check(f.get("BODY[1.MIME]") == parts[0][0], "BODY[1.MIME] is part 1's MIME header")
        bs1 = fetches(r.ok("FETCH 1 BODYSTRUCTURE"))[1]["BODYSTRUCTURE"]
        check(text(bs1[0]).upper() == "TEXT" and text(bs1[1]).upper() == "PLAIN" and int(bs1[6]) == len(text_of(SAMPLES[0][1])),
              "a message without MIME headers is text/plain of its body's size: %r" % bs1)
        f = fetches(r.ok("FETCH 1 BODY.PEEK[1]"))[1]
        check(f.get("BODY[1]") == text_of(SAMPLES[0][1]), "BODY[1] of a non-multipart message is its body")

        # BODY[] (not PEEK) sets \Seen: in the reply or the next FETCH, and in the file name.
        unseen = [i for i, b in enumerate(bases, 1) if "\\Seen" not in flags_of(names_before[b])]
        i = unseen[0]
        f = fetches(r.ok("FETCH %d BODY[]" % i))[i]
        check(f["BODY[]"] == crlf(messages[i - 1]), "FETCH %d BODY[] is byte-exact" % i)
        check("\\Seen" in fetches(r.ok("FETCH %d FLAGS" % i))[i]["FLAGS"], "FETCH BODY[] set \\Seen")
        check("\\Seen" in flags_of(message_files(inbox)[bases[i - 1]]), "... in the file name: %s" % message_files(inbox)[bases[i - 1]])
        i = unseen[1]
        fetches(r.ok("FETCH %d RFC822" % i))
        check("\\Seen" in flags_of(message_files(inbox)[bases[i - 1]]), "FETCH RFC822 sets \\Seen too")
        r.cmd("LOGOUT")
        r.close()

        # curl, as doc/clients.md runs it.
        if shutil.which("curl"):
            url = "imap://127.0.0.1:%d/" % m.imap_port

            out = curl(url)
            check(out.returncode == 0 and b"INBOX" in out.stdout, "curl lists mailboxes (LIST \"\" *)")
            for i in (3, 4):
                out = curl(url + "INBOX/;UID=%d" % all_uids[i - 1])
                check(out.returncode == 0 and out.stdout == crlf(messages[i - 1]), "curl ;UID=%d is byte-exact" % all_uids[i - 1])
                out = curl(url + "INBOX/;MAILINDEX=%d" % i)
                check(out.returncode == 0 and out.stdout == crlf(messages[i - 1]), "curl ;MAILINDEX=%d is byte-exact" % i)
        check(m.stop() == 0, "clean exit")
print("PASS")
