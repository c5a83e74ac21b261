"""Local stand-ins for what the PRM workflows talk to, for scripts/n8n.sh.

- `FakeOpenAI` speaks the OpenAI chat-completions protocol (`POST /v1/chat/completions`,
  `GET /v1/models`) and answers with canned JSON chosen by the patient's message, so the
  real n8n OpenAI node can run without the internet. It records every request.
- `CallbackReceiver` serves PRM's n8n callback paths, checks `X-PRM-Signature` over the raw
  body and the JSON against the contract of docs/n8n.md, and records every call. It stands
  in for n8n-callbacks until a real PRM is given (`--callback-base`).

Run on its own (`python3 fakes.py openai 8099`) to try the workflows by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CALLBACK_PATHS = {
    "/api/v1/prm/n8n/intake-response": "intake-response",
    "/api/v1/prm/n8n/triage-response": "triage-response",
    "/api/v1/prm/n8n/booking-response": "booking-response",
}
INTAKE_FIELDS = (
    "name",
    "date_of_birth",
    "chief_complaint",
    "symptoms",
    "allergies",
    "medications",
    "preferred_location",
    "preferred_day_time",
)
URGENCIES = ("routine", "urgent", "emergency")


def signature(secret: str, body: bytes) -> str:
    """The `X-PRM-Signature` value PRM and the workflows send: hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Server:
    """A threaded HTTP server on 127.0.0.1 that keeps what it was sent."""

    def __init__(self, handler_class, port: int = 0):
        self.calls: list[dict] = []
        self.changed = threading.Condition()
        outer = self

        class Handler(handler_class):
            server_state = outer

            def log_message(self, *args):  # quiet: the harness reports what matters
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def record(self, call: dict):
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float):
        """The first recorded call matching `predicate`, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for call in self.calls:
                    if predicate(call):
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)


class _OpenAIHandler(BaseHTTPRequestHandler):
    def _send_json(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            request = json.loads(raw)
            messages = request["messages"]
        except (ValueError, KeyError, TypeError):
            self._send_json(400, {"error": {"message": "not a chat completion request"}})
            return
        state = self.server_state
        prompt = "\n".join(str(m.get("content", "")) for m in messages)
        self.server_state.record(
            {"authorization": self.headers.get("Authorization"), "request": request, "prompt": prompt}
        )
        answer = state.answer_for(prompt)
        if answer is None:
            self._send_json(500, {"error": {"message": "the fake has no answer for this prompt"}})
            return
        self._send_json(
            200,
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": request.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": json.dumps(answer, ensure_ascii=False)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )


class FakeOpenAI(_Server):
    """Answers with the first canned answer whose marker occurs in the prompt.

    `answers` is a list of (kind, marker, answer): kind "intake" or "triage" matches the
    workflow's system prompt ("intake assistant" / "triage assistant").
    """

    def __init__(self, answers: list[tuple[str, str, dict]], port: int = 0):
        super().__init__(_OpenAIHandler, port)
        self.answers = answers

    def answer_for(self, prompt: str):
        for kind, marker, answer in self.answers:
            if f"{kind} assistant" in prompt and marker in prompt:
                return answer
        return None


class _CallbackHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        kind = CALLBACK_PATHS.get(self.path)
        state = self.server_state
        given = self.headers.get("X-PRM-Signature", "")
        signature_ok = hmac.compare_digest(given, signature(state.secret, raw))
        problems = []
        body = None
        if kind is None:
            problems.append(f"unknown path {self.path}")
        if not signature_ok:
            problems.append("X-PRM-Signature does not match the body")
        if not (self.headers.get("Content-Type") or "").startswith("application/json"):
            problems.append(f"Content-Type is {self.headers.get('Content-Type')!r}")
        try:
            body = json.loads(raw)
        except ValueError:
            problems.append("the body is not JSON")
        if kind and isinstance(body, dict):
            problems += contract_problems(kind, body)
        elif body is not None and not isinstance(body, dict):
            problems.append("the body is not a JSON object")
        state.record(
            {
                "kind": kind,
                "path": self.path,
                "body": body,
                "raw": raw,
                "signature_ok": signature_ok,
                "problems": problems,
            }
        )
        status = 401 if not signature_ok else 422 if problems else 200
        data = json.dumps({"ok": not problems, "problems": problems}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def contract_problems(kind: str, body: dict) -> list[str]:
    """What in a callback body breaks the contract of ARCHITECTURE §5 (docs/n8n.md)."""
    problems = []
    allowed = {
        "intake-response": {"conversation_id", "extracted_data", "next_question", "intake_complete"},
        "triage-response": {"conversation_id", "department", "confidence", "urgency", "reasoning"},
        "booking-response": {"conversation_id", "action", "appointment_id", "reason"},
    }[kind]
    extra = set(body) - allowed
    if extra:
        problems.append(f"unknown keys {sorted(extra)}")
    if not isinstance(body.get("conversation_id"), str) or not body["conversation_id"]:
        problems.append("conversation_id is not a non-empty string")
    if kind == "intake-response":
        data = body.get("extracted_data")
        if not isinstance(data, dict):
            problems.append("extracted_data is not an object")
        else:
            for field, value in data.items():
                if field not in INTAKE_FIELDS:
                    problems.append(f"extracted_data has the unknown field {field}")
                if not isinstance(value, str):
                    problems.append(f"extracted_data.{field} is not a string")
            dob = data.get("date_of_birth")
            if isinstance(dob, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", dob):
                problems.append("date_of_birth is not YYYY-MM-DD")
        if "next_question" not in body or not (body["next_question"] is None or isinstance(body["next_question"], str)):
            problems.append("next_question is not a string or null")
        if not isinstance(body.get("intake_complete"), bool):
            problems.append("intake_complete is not a boolean")
    elif kind == "triage-response":
        if not isinstance(body.get("department"), str) or not body["department"]:
            problems.append("department is not a non-empty string")
        if "urgency" in body and body["urgency"] not in URGENCIES:
            problems.append(f"urgency is not one of {URGENCIES}")
        if "confidence" in body and not (
            isinstance(body["confidence"], (int, float)) and not isinstance(body["confidence"], bool)
        ):
            problems.append("confidence is not a number")
        if "reasoning" in body and not isinstance(body["reasoning"], str):
            problems.append("reasoning is not a string")
    elif kind == "booking-response":
        if body.get("action") not in ("confirm", "cancel", "reschedule"):
            problems.append("action is not confirm, cancel or reschedule")
    return problems


class CallbackReceiver(_Server):
    def __init__(self, secret: str, port: int = 0):
        super().__init__(_CallbackHandler, port)
        self.secret = secret


def _main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("openai", "callbacks"):
        print("usage: fakes.py openai PORT   |   N8N_CALLBACK_SECRET=… fakes.py callbacks PORT", file=sys.stderr)
        return 2
    import os

    port = int(argv[2])
    if argv[1] == "openai":
        server = FakeOpenAI(
            [
                (
                    "intake",
                    "",
                    {"extracted_data": {}, "next_question": "¿Cuál es tu nombre completo?", "intake_complete": False},
                ),
                (
                    "triage",
                    "",
                    {"department": "General Medicine", "urgency": "routine", "confidence": 0.5, "reasoning": "fake"},
                ),
            ],
            port,
        )
    else:
        server = CallbackReceiver(os.environ.get("N8N_CALLBACK_SECRET", ""), port)
    print(f"{argv[1]} fake on http://127.0.0.1:{server.port}", flush=True)
    server.start()
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            for call in server.calls[seen:]:
                shown = {k: v for k, v in call.items() if k != "raw"}
                print(json.dumps(shown, ensure_ascii=False, default=str), flush=True)
            seen = len(server.calls)
    except KeyboardInterrupt:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
