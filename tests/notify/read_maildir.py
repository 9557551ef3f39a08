"""Prints the messages of a Maildir as JSON, decoded by Python's email package (an independent
MIME parser): envelope (X-MailFrom, X-RcptTo), headers (RFC 2047 decoded) and each text part.

usage: read_maildir.py MAILDIR
"""
import email
import email.policy
import json
import mailbox
import sys

out = []
box = mailbox.Maildir(sys.argv[1], create=False)
for key in box.keys():
    raw = box.get_bytes(key)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts[part.get_content_type()] = part.get_content()
    out.append({
        "mailfrom": str(msg["X-MailFrom"]),
        "rcpt": str(msg["X-RcptTo"]),
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "subject": str(msg["Subject"]),
        "message_id": str(msg["Message-ID"]),
        "date": str(msg["Date"]),
        "content_type": msg.get_content_type(),
        "bcc": str(msg["Bcc"]) if msg["Bcc"] is not None else "",
        "parts": parts,
    })
print(json.dumps(out))
