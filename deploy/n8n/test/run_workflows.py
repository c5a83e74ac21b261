"""Runs the PRM workflows in a real n8n and checks what they send back to PRM.

It starts n8n through deploy/n8n/bootstrap.sh, as a container would (credentials from the
environment, every workflow imported and published), in a throwaway user folder on free
ports, with an OpenAI-compatible fake as its LLM (fakes.py). Then it posts signed PRM
triggers to the workflows' webhooks and checks the callbacks: signed with the shared secret
over the exact bytes sent, and the JSON of the contract (docs/n8n.md).

Callbacks go to a local receiver (fakes.CallbackReceiver) unless --callback-base names a
running PRM (n8n-callbacks or the all-in-one): then the triggers carry PRM's callback URLs
and --conversation-id, the secret is $N8N_CALLBACK_SECRET (PRM's), and a scenario passes
when n8n's execution of it ends in success, that is when PRM answered every callback 2xx.

Usage: run_workflows.py --n8n BIN [--callback-base URL --conversation-id ID] SCENARIO...
Scenarios: triage (the triage webhook), intake (intake, then triage as a sub-workflow).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from fakes import CallbackReceiver, FakeOpenAI, signature

HERE = Path(__file__).resolve().parent
BOOTSTRAP = HERE.parent / "bootstrap.sh"
WORKFLOW_IDS = {"intake": "prmIntakeFlow001", "triage": "prmTriageFlow001"}
API_KEY = "sk-fake-for-the-n8n-check"
MODEL = "prm-check-model"  # given as OPENAI_MODEL: bootstrap.sh must put it in the LLM nodes
CALLBACK_TIMEOUT = 60.0
# n8n settings a developer's shell may carry (a DB_TYPE would even point n8n at a real
# database): none of them reach the n8n under test.
FOREIGN_SETTINGS = ("N8N_", "DB_", "EXECUTIONS_", "QUEUE_", "CREDENTIALS_", "WEBHOOK_URL", "OPENAI_", "NODE_FUNCTION_")

COMPLETE_INTAKE = {
    "name": "María José Gómez",
    "date_of_birth": "1984-03-09",
    "chief_complaint": "Dolor en el pecho al subir escaleras",
    "symptoms": "Presión en el pecho y palpitaciones desde hace dos semanas",
    "allergies": "ninguna",
    "medications": "losartán 50 mg",
    "preferred_location": "any",
    "preferred_day_time": "martes en la mañana",
}
REQUIRED_FIELDS = list(COMPLETE_INTAKE)

# What the fake LLM answers, chosen by a marker in the prompt (the patient's message).
LLM_ANSWERS = [
    # The department comes back in other case: the workflow must send the clinic's spelling.
    (
        "triage",
        "Presión en el pecho",
        {
            "department": "cardiology",
            "urgency": "urgent",
            "confidence": 0.82,
            "reasoning": "Chest pressure on exertion with palpitations.",
        },
    ),
    # A department the clinic does not have: the workflow must fail rather than send it.
    (
        "triage",
        "Me duele la rodilla",
        {
            "department": "Traumatology",
            "urgency": "routine",
            "confidence": 0.9,
            "reasoning": "Knee pain.",
        },
    ),
    (
        "intake",
        "martes en la mañana",
        {
            "extracted_data": {"preferred_location": "any", "preferred_day_time": "martes en la mañana"},
            "next_question": None,
            "intake_complete": True,
        },
    ),
    (
        "intake",
        "Hola, soy Ana",
        {
            "extracted_data": {"name": "Ana Pérez", "date_of_birth": None},
            "next_question": "¿Cuál es tu fecha de nacimiento?",
            "intake_complete": False,
        },
    ),
]


class Failure(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log(message: str):
    print(f"n8n: {message}", flush=True)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class N8n:
    """One n8n with its own user folder, ports and log, stopped on exit."""

    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.folder = workdir / "n8n"
        self.port = free_port()
        self.log_path = workdir / "n8n.log"
        self.process: subprocess.Popen | None = None
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(FOREIGN_SETTINGS)},
            "N8N_USER_FOLDER": str(self.folder),
            "N8N_PORT": str(self.port),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_RUNNERS_BROKER_PORT": str(free_port()),
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "true",
            "N8N_LOG_LEVEL": "info",
        }
        self.folder.mkdir()

    def start(self, secret: str, llm_url: str):
        """bootstrap.sh sets up credentials and workflows, then execs `n8n start`."""
        env = {
            **self.env,
            "PATH": f"{Path(self.binary).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "N8N_CALLBACK_SECRET": secret,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": llm_url,
            "OPENAI_MODEL": MODEL,
        }
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(
            ["sh", str(BOOTSTRAP)], env=env, stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True
        )

    def webhook_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/webhook/{path}"

    def wait_for_webhook(self, path: str, timeout: float = 180.0):
        """Until the workflow answers: an unsigned POST gets the workflow's own 401.

        Not merely "not 404": while n8n is still activating a workflow its webhook may
        already answer 200 without running the signature check (seen once on a cold
        start), and the first forged trigger of a scenario then looked accepted."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Failure(f"bootstrap.sh or n8n exited ({self.process.returncode}) before serving {path}")
            try:
                status, _ = post(self.webhook_url(path), b"{}", {"Content-Type": "application/json"})
                last = status
                if status == 401:
                    return status
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.5)
        raise Failure(f"the webhook {path} did not answer an unsigned POST with 401 within {timeout:.0f}s (last status {last})")

    def executions(self, workflow_id: str) -> list[tuple[str, str]]:
        """(id, status) of the workflow's executions, from n8n's own database."""
        db = sqlite3.connect(f"file:{self.folder / '.n8n' / 'database.sqlite'}?mode=ro", uri=True)
        try:
            return db.execute(
                "SELECT id, status FROM execution_entity WHERE workflowId = ? ORDER BY id", (workflow_id,)
            ).fetchall()
        finally:
            db.close()

    def failure(self, execution_id: str) -> str:
        """Which node failed an execution, and n8n's message (execution data is "flatted" JSON:
        strings of digits point at other entries of one list)."""
        db = sqlite3.connect(f"file:{self.folder / '.n8n' / 'database.sqlite'}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT data FROM execution_data WHERE executionId = ?", (execution_id,)).fetchone()
        finally:
            db.close()
        try:
            data = json.loads(row[0])
            at = lambda ref: data[int(ref)]  # noqa: E731
            result = at(data[0]["resultData"])
            error = at(result["error"])
            parts = [at(error[key]) for key in ("message", "description") if isinstance(error.get(key), str)]
            return f"node {at(result['lastNodeExecuted'])!r}: {' - '.join(map(str, parts))}"
        except (TypeError, ValueError, KeyError, IndexError):
            return "no error recorded"

    def wait_for_executions(self, workflow_id: str, count: int, timeout: float = CALLBACK_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [e for e in self.executions(workflow_id) if e[1] not in ("new", "running", "waiting")]
            if len(done) >= count:
                return done
            time.sleep(0.5)
        raise Failure(f"{workflow_id}: fewer than {count} finished executions after {timeout:.0f}s")

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        if self.process:
            self.log_file.close()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Run:
    def __init__(
        self,
        n8n: N8n,
        llm: FakeOpenAI,
        receiver: CallbackReceiver | None,
        callback_base: str,
        secret: str,
        conversation_id: str | None,
    ):
        self.n8n, self.llm, self.receiver = n8n, llm, receiver
        self.callback_base, self.secret, self.conversation_id = callback_base, secret, conversation_id
        self.expected_failures: set[str] = set()

    def trigger(self, conversation_id: str, message: str, extracted: dict) -> dict:
        base = f"{self.callback_base}/api/v1/prm/n8n"
        return {
            "event": "intake.message",
            "conversation_id": conversation_id,
            "patient_phone": "+573001234567",
            "message": message,
            "state": {"required_fields": REQUIRED_FIELDS, "extracted_data": extracted},
            "callback_urls": {
                "intake_response": f"{base}/intake-response",
                "triage_response": f"{base}/triage-response",
                "booking_response": f"{base}/booking-response",
            },
        }

    def send(self, path: str, payload: dict, sign_with: str | None) -> int:
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        if sign_with is not None:
            headers["X-PRM-Signature"] = signature(sign_with, body)
        status, _ = post(self.n8n.webhook_url(path), body, headers)
        return status

    def callback(self, kind: str, conversation_id: str) -> dict:
        """The callback the receiver got; fails at once when an execution of either workflow
        fails, with n8n's reason, rather than after the whole timeout."""
        deadline = time.monotonic() + CALLBACK_TIMEOUT
        while True:
            call = self.receiver.wait_for(
                lambda c: (
                    c["kind"] == kind
                    and isinstance(c["body"], dict)
                    and c["body"].get("conversation_id") == conversation_id
                ),
                0.5,
            )
            if call is not None:
                break
            for workflow_id in WORKFLOW_IDS.values():
                for execution_id, status in self.n8n.executions(workflow_id):
                    if status in ("error", "crashed") and execution_id not in self.expected_failures:
                        raise Failure(
                            f"waiting for the {kind} of {conversation_id}, n8n's execution "
                            f"{execution_id} of {workflow_id} failed: {self.n8n.failure(execution_id)}"
                        )
            if time.monotonic() > deadline:
                raise Failure(f"no {kind} for {conversation_id} within {CALLBACK_TIMEOUT:.0f}s")
        if call["problems"]:
            raise Failure(f"the {kind} for {conversation_id} breaks the contract: {call['problems']}")
        return call["body"]

    def conversation(self) -> str:
        return self.conversation_id or str(uuid.uuid4())

    def scenario_triage(self):
        """The triage webhook: a forged trigger is refused; a signed one gets a triage-response."""
        path = "prm-triage"
        forged = self.conversation()
        status = self.send(path, self.trigger(forged, "Presión en el pecho", COMPLETE_INTAKE), "not-the-secret")
        expect(status == 401, f"a trigger signed with another secret got {status}, not 401")
        status = self.send(path, self.trigger(forged, "Presión en el pecho", COMPLETE_INTAKE), None)
        expect(status == 401, f"an unsigned trigger got {status}, not 401")
        log("triage: forged and unsigned triggers are refused with 401")

        conversation = self.conversation()
        message = "Presión en el pecho y palpitaciones desde hace dos semanas"
        before = len(self.n8n.executions(WORKFLOW_IDS["triage"]))
        status = self.send(path, self.trigger(conversation, message, COMPLETE_INTAKE), self.secret)
        expect(status == 202, f"a signed trigger got {status}, not 202")
        if self.receiver is None:
            self.expect_success("triage", before)
            log(f"triage: PRM at {self.callback_base} accepted the triage-response")
            return
        body = self.callback("triage-response", conversation)
        expected = {
            "conversation_id": conversation,
            "department": "Cardiology",
            "urgency": "urgent",
            "confidence": 0.82,
            "reasoning": "Chest pressure on exertion with palpitations.",
        }
        expect(body == expected, f"triage-response is {body}, expected {expected}")
        forged_calls = [c for c in self.receiver.calls if (c["body"] or {}).get("conversation_id") == forged]
        expect(not forged_calls, f"the forged trigger still caused callbacks: {forged_calls}")

        asked = self.llm.wait_for(lambda c: "triage assistant" in c["prompt"], 0)
        expect(asked["authorization"] == f"Bearer {API_KEY}", "the LLM was not called with the credential's key")
        expect(asked["request"].get("model") == MODEL, f"the LLM was asked for model {asked['request'].get('model')}")
        expect(asked["request"].get("response_format") == {"type": "json_object"}, "no JSON response format")
        for needle in ("Cardiology, Dermatology, General Medicine, Pediatrics", COMPLETE_INTAKE["symptoms"]):
            expect(needle in asked["prompt"], f"the triage prompt lacks {needle!r}")
        log(
            "triage: a signed trigger got a correctly signed triage-response "
            f"(department {body['department']}, urgency {body['urgency']})"
        )

        # An answer off the contract fails the execution and sends nothing: PRM's built-in
        # triage then answers after N8N_TIMEOUT_SECS.
        unusable = self.conversation()
        before = len(self.n8n.executions(WORKFLOW_IDS["triage"]))
        knee = {
            **COMPLETE_INTAKE,
            "chief_complaint": "Me duele la rodilla",
            "symptoms": "Me duele la rodilla al caminar",
        }
        status = self.send(path, self.trigger(unusable, "Me duele la rodilla", knee), self.secret)
        expect(status == 202, f"a signed trigger got {status}, not 202")
        execution_id, status = self.n8n.wait_for_executions(WORKFLOW_IDS["triage"], before + 1)[-1]
        self.expected_failures.add(execution_id)
        reason = self.n8n.failure(execution_id)
        expect(
            status == "error" and "no department of the clinic" in reason,
            f"a department the clinic lacks ended the execution {status!r} ({reason})",
        )
        sent = [c for c in self.receiver.calls if (c["body"] or {}).get("conversation_id") == unusable]
        expect(not sent, f"a department the clinic lacks was still sent: {sent}")
        log("triage: an LLM answer naming a department the clinic lacks fails the execution and sends nothing")

    def scenario_intake(self):
        """Intake: an answer that completes the intake also runs triage; an early one asks on."""
        path = "prm-intake"
        status = self.send(path, self.trigger(self.conversation(), "hola", {}), None)
        expect(status == 401, f"an unsigned intake trigger got {status}, not 401")

        if self.receiver is None:
            before = len(self.n8n.executions(WORKFLOW_IDS["intake"]))
            status = self.send(path, self.trigger(self.conversation(), "Hola, soy Ana", {}), self.secret)
            expect(status == 202, f"a signed intake trigger got {status}, not 202")
            self.expect_success("intake", before)
            log(f"intake: PRM at {self.callback_base} accepted the intake-response")
            return

        early = self.conversation()
        status = self.send(path, self.trigger(early, "Hola, soy Ana", {}), self.secret)
        expect(status == 202, f"a signed intake trigger got {status}, not 202")
        body = self.callback("intake-response", early)
        expected = {
            "conversation_id": early,
            "extracted_data": {"name": "Ana Pérez"},
            "next_question": "¿Cuál es tu fecha de nacimiento?",
            "intake_complete": False,
        }
        expect(body == expected, f"intake-response is {body}, expected {expected}")
        log("intake: a first answer got the next question, signed")

        last = self.conversation()
        known = {k: v for k, v in COMPLETE_INTAKE.items() if k not in ("preferred_location", "preferred_day_time")}
        message = "Cualquier sede, el martes en la mañana"
        status = self.send(path, self.trigger(last, message, known), self.secret)
        expect(status == 202, f"a signed intake trigger got {status}, not 202")
        body = self.callback("intake-response", last)
        expected = {
            "conversation_id": last,
            "extracted_data": {"preferred_location": "any", "preferred_day_time": "martes en la mañana"},
            "next_question": None,
            "intake_complete": True,
        }
        expect(body == expected, f"intake-response is {body}, expected {expected}")
        triage = self.callback("triage-response", last)
        expect(triage["department"] == "Cardiology", f"triage after intake: {triage}")
        early_triage = [
            c
            for c in self.receiver.calls
            if c["kind"] == "triage-response" and c["body"].get("conversation_id") == early
        ]
        expect(not early_triage, "triage ran for an intake that is not complete")
        log("intake: the last answer completed the intake and PRM triage sent its triage-response")

    def expect_success(self, name: str, before: int):
        """The execution after the `before` earlier ones ended in success: PRM answered 2xx."""
        done = self.n8n.wait_for_executions(WORKFLOW_IDS[name], before + 1)
        execution_id, status = done[-1]
        expect(
            status == "success",
            f"n8n's execution {execution_id} of {name} ended {status!r}: " + self.n8n.failure(execution_id),
        )


def expect(condition: bool, message: str):
    if not condition:
        raise Failure(message)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n8n", required=True, help="the n8n binary")
    parser.add_argument("--callback-base", help="a running PRM, e.g. http://127.0.0.1:8080")
    parser.add_argument("--conversation-id", help="a conversation that exists in that PRM")
    parser.add_argument("--keep", action="store_true", help="keep the n8n folder and log")
    parser.add_argument("scenarios", nargs="+", choices=["triage", "intake"])
    args = parser.parse_args()
    if args.callback_base and not (args.conversation_id and os.environ.get("N8N_CALLBACK_SECRET")):
        parser.error("--callback-base needs --conversation-id and PRM's N8N_CALLBACK_SECRET in the environment")
    if args.callback_base and len(args.scenarios) > 1:
        parser.error("with --callback-base, run one scenario per conversation (run-triage or run-intake)")

    secret = os.environ.get("N8N_CALLBACK_SECRET") if args.callback_base else secrets.token_hex(32)
    workdir = Path(tempfile.mkdtemp(prefix="prm-n8n-"))
    llm = FakeOpenAI(LLM_ANSWERS).start()
    receiver = None if args.callback_base else CallbackReceiver(secret).start()
    callback_base = args.callback_base.rstrip("/") if args.callback_base else f"http://127.0.0.1:{receiver.port}"
    n8n = N8n(args.n8n, workdir)
    started = time.monotonic()
    try:
        n8n.start(secret, f"http://127.0.0.1:{llm.port}/v1")
        for name in args.scenarios:
            n8n.wait_for_webhook(f"prm-{name}")
        log(f"n8n on port {n8n.port} serves the webhooks {time.monotonic() - started:.1f}s after bootstrap.sh started")

        run = Run(n8n, llm, receiver, callback_base, secret, args.conversation_id)
        for name in args.scenarios:
            getattr(run, f"scenario_{name}")()
        log(f"every scenario passed ({', '.join(args.scenarios)}) in {time.monotonic() - started:.1f}s")
        return 0
    except Failure as failure:
        print(f"n8n: FAILED: {failure}", file=sys.stderr)
        tail = n8n.log_tail()
        if tail:
            print(f"--- the end of n8n's log ({n8n.log_path}) ---\n{tail}", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        n8n.stop()
        llm.stop()
        if receiver:
            receiver.stop()
        if args.keep:
            print(f"n8n: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
