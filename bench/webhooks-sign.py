#!/usr/bin/env python3
"""Writes N signed Twilio inbound webhooks, one per line: `<X-Twilio-Signature>\t<form body>`.

Signed exactly as Twilio signs: base64(HMAC-SHA1(auth token, URL + every parameter name
and value sorted by name)). Each request has its own MessageSid, so every request takes
the full path (dedup marker, insert, outbox) instead of the cheap duplicate path.
Usage: webhooks-sign.py <count> <public url of the route> <auth token> <out file>
"""
import base64, hashlib, hmac, sys, urllib.parse, uuid

count, url, token, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(out, "w") as f:
    for i in range(count):
        sid = "SM" + uuid.uuid4().hex
        params = {
            "MessageSid": sid, "SmsMessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32,
            "From": "whatsapp:+5730012%05d" % (i % 100000), "To": "whatsapp:+14155238886",
            "Body": "Hola, quiero agendar una cita con cardiología 🙏 #%d" % i,
            "NumMedia": "0", "ProfileName": "Paciente %d" % i, "WaId": "5730012%05d" % (i % 100000),
            "ApiVersion": "2010-04-01", "SmsStatus": "received", "NumSegments": "1",
        }
        data = url + "".join(k + params[k] for k in sorted(params))
        sig = base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()
        f.write(sig + "\t" + urllib.parse.urlencode(params) + "\n")
